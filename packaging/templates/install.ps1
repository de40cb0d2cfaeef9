# Install @NAME@ @VERSION@ from this bundle into a new virtual environment, with no package index.
#   powershell -ExecutionPolicy Bypass -File install.ps1 VENV [-Python py] [-Check]
param(
    [Parameter(Position = 0)] [string] $Venv = "",
    [string] $Python = "",
    [switch] $Check
)
$ErrorActionPreference = "Stop"
$Bundle = Split-Path -Parent $MyInvocation.MyCommand.Path
$PyVer = "@PYTHON@"
function Fail($msg) { Write-Error "install.ps1: error: $msg"; exit 1 }
if (-not $Check -and -not $Venv) { Fail "usage: install.ps1 VENV [-Python py] | install.ps1 -Check" }

# 1. Every listed wheel is there and unchanged, and nothing unlisted is in wheels\.
$sums = Join-Path $Bundle "SHA256SUMS"
if (-not (Test-Path $sums)) { Fail "$sums is missing: the bundle cannot be verified" }
$bad = $false
$listed = @{}
foreach ($line in Get-Content $sums) {
    if (-not $line.Trim()) { continue }
    $sum, $rel = $line -split "  ", 2
    $listed[$rel] = $true
    $path = Join-Path $Bundle $rel
    if (-not (Test-Path $path)) { Write-Host "MISSING: $rel is listed in SHA256SUMS but not in the bundle"; $bad = $true; continue }
    $actual = (Get-FileHash -Algorithm SHA256 $path).Hash.ToLower()
    if ($actual -ne $sum) { Write-Host "ALTERED: $rel has SHA-256 $actual, SHA256SUMS says $sum"; $bad = $true }
}
foreach ($f in Get-ChildItem (Join-Path $Bundle "wheels")) {
    if (-not $listed.ContainsKey("wheels/$($f.Name)")) { Write-Host "UNLISTED: wheels/$($f.Name)"; $bad = $true }
}
if ($listed.Count -eq 0) { Fail "SHA256SUMS lists no wheels" }
if ($bad) { Fail "the bundle failed verification; nothing was installed. Get a fresh copy of the bundle." }
Write-Host "install.ps1: $($listed.Count) wheels verified against SHA256SUMS"
if ($Check) { exit 0 }

# 2. An interpreter of the Python the wheels were built for (the py launcher when there is one).
if (-not $Python) {
    if (Get-Command py -ErrorAction SilentlyContinue) { $Python = "py"; $launcherArgs = @("-$PyVer") }
    else { $Python = "python"; $launcherArgs = @() }
} else { $launcherArgs = @() }
$have = & $Python @launcherArgs -c "import sys; print('%d.%d' % sys.version_info[:2])"
if ($have -ne $PyVer) { Fail "$Python is Python $have; this bundle is for Python $PyVer (pass -Python)" }

# 3. The venv, then pip with no index: config files and PIP_* variables are ignored.
& $Python @launcherArgs -m venv $Venv
if ($LASTEXITCODE -ne 0) { Fail "could not create the virtual environment $Venv" }
$env:PIP_CONFIG_FILE = "NUL"
& (Join-Path $Venv "Scripts\python.exe") -m pip install --isolated --no-index `
    --find-links (Join-Path $Bundle "wheels") --only-binary=:all: --disable-pip-version-check "@NAME@==@VERSION@"
if ($LASTEXITCODE -ne 0) { Fail "pip could not install from $Bundle\wheels (see above)" }
& (Join-Path $Venv "Scripts\workbench.exe") --version
if ($LASTEXITCODE -ne 0) { Fail "installed, but workbench.exe does not start" }
Write-Host "install.ps1: installed into $Venv"
