<#
.SYNOPSIS
Installs the library's office server on a Windows PC: a virtual environment, a data folder, the
first librarian's account, and scheduled tasks that start the server with the PC and back up
the database every night.

.DESCRIPTION
Run it in PowerShell opened as administrator, from the project folder:

    powershell -ExecutionPolicy Bypass -File deploy\install-server.ps1 -Librarian "Ms Wang"

Safe to run again: it upgrades the program and keeps the data. It needs Python 3.11 or newer
from python.org ("py" launcher). Kiosks reach the server at http://THIS-PC:8470.

.PARAMETER Source
What to install: the project folder (default: the folder above this script) or a wheel file.

.PARAMETER InstallDir
Where the program goes (default: C:\Program Files\LibraryServer).

.PARAMETER DataDir
Where the database and its backups go (default: C:\ProgramData\LibraryServer).

.PARAMETER Port
The port kiosks and browsers use (default 8470); opened in Windows Firewall for the local network.

.PARAMETER KeepDays
How many days of nightly backups to keep (default 14).

.PARAMETER Librarian
The first librarian's name: an account is made for them (they choose a password).
#>
[CmdletBinding()]
param(
    [string]$Source = (Split-Path -Parent $PSScriptRoot),
    [string]$InstallDir = (Join-Path $env:ProgramFiles 'LibraryServer'),
    [string]$DataDir = (Join-Path $env:ProgramData 'LibraryServer'),
    [ValidateRange(1, 65535)][int]$Port = 8470,
    [ValidateRange(1, 3650)][int]$KeepDays = 14,
    [string]$Librarian = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Say([string]$What) { Write-Host "install-server: $What" }

$principal = New-Object Security.Principal.WindowsPrincipal(
    [Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Open PowerShell as administrator (right-click, "Run as administrator") and run this again.'
}

# Python 3.11 or newer, through the py launcher that python.org's installer puts in Windows.
$py = Get-Command py -ErrorAction SilentlyContinue
if ($null -eq $py) {
    throw 'Python is not installed: install Python 3.11 or newer from python.org (tick "py launcher"), then run this again.'
}
& py -3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'
if ($LASTEXITCODE -ne 0) { throw 'Python 3.11 or newer is needed: install it from python.org.' }

$venv = Join-Path $InstallDir 'venv'
$server = Join-Path $venv 'Scripts\library-server.exe'
$python = Join-Path $venv 'Scripts\python.exe'

Say "the server from $Source into $venv"
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir, (Join-Path $DataDir 'backups') | Out-Null
if (-not (Test-Path $python)) {
    & py -3 -m venv $venv
    if ($LASTEXITCODE -ne 0) { throw "could not make the virtual environment in $venv" }
}
& $python -m pip install --quiet --upgrade pip
& $python -m pip install --quiet --upgrade "$Source[server]"
if ($LASTEXITCODE -ne 0) { throw "could not install the server from $Source" }

# The database is created (or upgraded) now rather than at the first request.
& $server --data $DataDir kiosks | Out-Null
if ($LASTEXITCODE -ne 0) { throw "the server cannot open its database in $DataDir" }

if ($Librarian) {
    Say "the first librarian: $Librarian (a password of 8 characters or more)"
    & $server --data $DataDir create-librarian $Librarian
    if ($LASTEXITCODE -ne 0) { Say "no account made for $Librarian (said above why); the rest goes on" }
}

# Started with the PC, before anyone logs in, as the local system account; started again a
# minute after it stops, for as long as the PC runs.
Say 'scheduled task "Library Server" (starts with the PC)'
$settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
    -StartWhenAvailable -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1) `
    -ExecutionTimeLimit ([TimeSpan]::Zero)
$system = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
$serve = New-ScheduledTaskAction -Execute $server -WorkingDirectory $DataDir `
    -Argument "--data `"$DataDir`" serve --port $Port"
Register-ScheduledTask -TaskName 'Library Server' -Force -Action $serve -Principal $system `
    -Settings $settings -Trigger (New-ScheduledTaskTrigger -AtStartup) `
    -Description 'Library Kiosk office server (installed by deploy\install-server.ps1)' | Out-Null

Say 'scheduled task "Library Server backup" (every night at 02:30)'
$backup = New-ScheduledTaskAction -Execute $server -WorkingDirectory $DataDir `
    -Argument "--data `"$DataDir`" backup --keep-days $KeepDays"
Register-ScheduledTask -TaskName 'Library Server backup' -Force -Action $backup -Principal $system `
    -Settings (New-ScheduledTaskSettingsSet -StartWhenAvailable) `
    -Trigger (New-ScheduledTaskTrigger -Daily -At '02:30') `
    -Description 'Nightly copy of the Library Kiosk office database' | Out-Null

Say "Windows Firewall: port $Port open to the local network"
if (-not (Get-NetFirewallRule -DisplayName 'Library Server' -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -DisplayName 'Library Server' -Direction Inbound -Protocol TCP `
        -LocalPort $Port -Profile @('Domain', 'Private') -Action Allow | Out-Null
}

Stop-ScheduledTask -TaskName 'Library Server' -ErrorAction SilentlyContinue
Start-ScheduledTask -TaskName 'Library Server'
Say "done: kiosks reach this PC at http://$($env:COMPUTERNAME):$Port"
