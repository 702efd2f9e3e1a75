# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
#
# The dead-man rollback of hostsec.ports on Windows (hostsec.ports.win_port_rollback).
# Before a change the module snapshots the collection's rule group and the
# services the change will stop, and registers a one-shot scheduled task
# running as SYSTEM. Unless the controller confirms over a new connection
# before the timeout, the task runs Invoke-HostsecRollback: it marks that it
# fired, restores the group and the services, and unregisters itself.
# Invoke-HostsecRollback is written into the task's script from its own
# definition here, so the code that runs is the code that is parsed and tested.

$script:TaskPath = '\hostsec.ports\'
$script:TaskName = 'rollback'

Function Get-HostsecRollbackPath {
    <#
    .SYNOPSIS
    The files of the rollback: directory, snapshot, script, and the marker written when it fired.
    #>
    param (
        [string]
        $Directory = (Join-Path -Path $env:ProgramData -ChildPath 'hostsec.ports\rollback')
    )

    [PSCustomObject]@{
        Directory = $Directory
        Snapshot = Join-Path -Path $Directory -ChildPath 'snapshot.json'
        Script = Join-Path -Path $Directory -ChildPath 'rollback.ps1'
        Fired = Join-Path -Path $Directory -ChildPath 'fired.json'
    }
}

Function New-HostsecPrivateDirectory {
    <#
    .SYNOPSIS
    Creates the directory with access for SYSTEM and Administrators only (it holds a script SYSTEM runs).
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Path
    )

    if (-not (Test-Path -LiteralPath $Path)) {
        $null = New-Item -Path $Path -ItemType Directory -Force
    }
    $acl = New-Object -TypeName Security.AccessControl.DirectorySecurity
    $acl.SetAccessRuleProtection($true, $false)
    $inherit = [Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $identity = New-Object -TypeName Security.Principal.SecurityIdentifier -ArgumentList $sid
        $rule = New-Object -TypeName Security.AccessControl.FileSystemAccessRule -ArgumentList @(
            $identity, 'FullControl', $inherit, 'None', 'Allow')
        $acl.AddAccessRule($rule)
    }
    Set-Acl -LiteralPath $Path -AclObject $acl
}

Function Get-HostsecRollbackSnapshot {
    <#
    .SYNOPSIS
    The state a rollback restores: the group's rules (with port filters) and the named services.
    .DESCRIPTION
    Services are resolved by their service name only (Get-Service -Name
    matches display names too, so the name is compared exactly).
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [AllowEmptyCollection()]
        [string[]]
        $Service = @()
    )

    $rules = [Collections.Generic.List[Object]]@()
    foreach ($rule in @(Get-NetFirewallRule -PolicyStore PersistentStore -Group $Group -ErrorAction SilentlyContinue)) {
        $ports = $rule | Get-NetFirewallPortFilter -ErrorAction Stop
        $rules.Add([Ordered]@{
                Name = [string]$rule.Name
                DisplayName = [string]$rule.DisplayName
                Description = [string]$rule.Description
                Direction = [string]$rule.Direction
                Action = [string]$rule.Action
                Enabled = [string]$rule.Enabled
                Profile = [string]$rule.Profile
                Protocol = [string]$ports.Protocol
                LocalPort = [string[]]@($ports.LocalPort)
            })
    }
    $services = [Collections.Generic.List[Object]]@()
    foreach ($name in $Service) {
        $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$($name -replace "'", "''")'" -ErrorAction Stop
        if ($null -eq $svc) {
            throw "service '$name' does not exist (services are matched by service name, never display name)"
        }
        $services.Add([Ordered]@{
                Name = [string]$svc.Name
                StartMode = [string]$svc.StartMode
                DelayedAutoStart = [bool]$svc.DelayedAutoStart
                State = [string]$svc.State
            })
    }
    [Ordered]@{
        group = $Group
        created = [DateTime]::UtcNow.ToString('o')
        rules = $rules
        services = $services
    }
}

Function Invoke-HostsecRollback {
    <#
    .SYNOPSIS
    Restores the snapshot: the group's rules exactly as they were, then the services. Run by the scheduled task.
    .DESCRIPTION
    Self-contained (the task runs it from a script with no module imports).
    It writes the fired marker first, so a confirmation racing with it still
    learns that it ran; it is idempotent, and unregisters its task at the end.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Directory,

        [string]
        $TaskPath = '\hostsec.ports\',

        [string]
        $TaskName = 'rollback'
    )

    $ErrorActionPreference = 'Stop'
    $snapshotPath = Join-Path -Path $Directory -ChildPath 'snapshot.json'
    $firedPath = Join-Path -Path $Directory -ChildPath 'fired.json'
    $problems = [Collections.Generic.List[string]]@()
    @{ fired = [DateTime]::UtcNow.ToString('o'); problems = @() } | ConvertTo-Json | Set-Content -LiteralPath $firedPath -Encoding UTF8
    $snapshot = Get-Content -LiteralPath $snapshotPath -Raw | ConvertFrom-Json

    foreach ($rule in @(Get-NetFirewallRule -PolicyStore PersistentStore -Group $snapshot.group -ErrorAction SilentlyContinue)) {
        try {
            Remove-NetFirewallRule -Name $rule.Name -PolicyStore PersistentStore
        }
        catch {
            $problems.Add("remove rule $($rule.Name): $($_.Exception.Message)")
        }
    }
    foreach ($rule in @($snapshot.rules)) {
        try {
            $params = @{
                Name = $rule.Name
                DisplayName = $rule.DisplayName
                Description = $rule.Description
                Group = $snapshot.group
                Direction = $rule.Direction
                Action = $rule.Action
                Enabled = $rule.Enabled
                Profile = $rule.Profile
                Protocol = $rule.Protocol
                LocalPort = @($rule.LocalPort)
                PolicyStore = 'PersistentStore'
            }
            $null = New-NetFirewallRule @params
        }
        catch {
            $problems.Add("restore rule $($rule.Name): $($_.Exception.Message)")
        }
    }
    foreach ($svc in @($snapshot.services)) {
        try {
            # Win32_Service StartMode 'Auto' is the Automatic start type of sc.exe.
            $startType = switch ($svc.StartMode) {
                'Auto' { if ($svc.DelayedAutoStart) { 'delayed-auto' } else { 'auto' } }
                'Manual' { 'demand' }
                'Disabled' { 'disabled' }
                default { $null }
            }
            if ($startType) {
                $null = & sc.exe config $svc.Name "start=" $startType
            }
            if ($svc.State -eq 'Running') {
                Start-Service -Name $svc.Name
            }
        }
        catch {
            $problems.Add("restore service $($svc.Name): $($_.Exception.Message)")
        }
    }
    @{ fired = [DateTime]::UtcNow.ToString('o'); problems = [string[]]$problems.ToArray() } |
        ConvertTo-Json | Set-Content -LiteralPath $firedPath -Encoding UTF8
    try {
        Unregister-ScheduledTask -TaskPath $TaskPath -TaskName $TaskName -Confirm:$false
    }
    catch {
        $null = $_
    }
}

Function Get-HostsecRollbackScript {
    <#
    .SYNOPSIS
    The text of the script the scheduled task runs: Invoke-HostsecRollback's own definition and one call.
    #>
    [OutputType([string])]
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Directory
    )

    $definition = (Get-Command -Name Invoke-HostsecRollback).Definition
    $quoted = $Directory -replace "'", "''"
    @(
        '# Written by hostsec.ports.win_port_rollback; runs once as SYSTEM unless the change was confirmed.'
        "Function Invoke-HostsecRollback {$definition}"
        "Invoke-HostsecRollback -Directory '$quoted' -TaskPath '$($script:TaskPath)' -TaskName '$($script:TaskName)'"
    ) -join "`r`n"
}

Function Get-HostsecRollbackTask {
    <#
    .SYNOPSIS
    The pending rollback task, or $null.
    #>
    Get-ScheduledTask -TaskPath $script:TaskPath -TaskName $script:TaskName -ErrorAction SilentlyContinue
}

Function Register-HostsecRollback {
    <#
    .SYNOPSIS
    Snapshots (unless an earlier trial's snapshot is still pending) and arms the one-shot task.
    .DESCRIPTION
    A task still pending from an earlier trial run holds the true pre-trial
    state: its snapshot is kept and the task re-armed, rather than
    snapshotting the trial state it was meant to undo.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [AllowEmptyCollection()]
        [string[]]
        $Service = @(),

        [Parameter(Mandatory = $true)]
        [int]
        $Timeout,

        [string]
        $Directory
    )

    $paths = if ($Directory) { Get-HostsecRollbackPath -Directory $Directory } else { Get-HostsecRollbackPath }
    $pending = $null -ne (Get-HostsecRollbackTask) -and (Test-Path -LiteralPath $paths.Snapshot)
    New-HostsecPrivateDirectory -Path $paths.Directory
    if (Test-Path -LiteralPath $paths.Fired) {
        Remove-Item -LiteralPath $paths.Fired -Force
    }
    if (-not $pending) {
        Get-HostsecRollbackSnapshot -Group $Group -Service $Service | ConvertTo-Json -Depth 5 |
            Set-Content -LiteralPath $paths.Snapshot -Encoding UTF8
    }
    Get-HostsecRollbackScript -Directory $paths.Directory | Set-Content -LiteralPath $paths.Script -Encoding UTF8

    $powershell = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $action = New-ScheduledTaskAction -Execute $powershell -Argument (
        "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$($paths.Script)`"")
    $at = (Get-Date).AddSeconds($Timeout)
    $trigger = New-ScheduledTaskTrigger -Once -At $at
    # 'SYSTEM' is not localised (only its domain, NT AUTHORITY, is).
    $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
    $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -ExecutionTimeLimit (New-TimeSpan -Minutes 10) `
        -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries
    $task = @{
        TaskPath = $script:TaskPath
        TaskName = $script:TaskName
        Action = $action
        Trigger = $trigger
        Principal = $principal
        Settings = $settings
        Description = 'hostsec.ports: restore the firewall rules and services unless the controller confirmed the change'
        Force = $true
    }
    $null = Register-ScheduledTask @task
    [PSCustomObject]@{
        KeptSnapshot = $pending
        FiresAt = $at.ToUniversalTime().ToString('o')
    }
}

Function Confirm-HostsecRollback {
    <#
    .SYNOPSIS
    Cancels the pending task; says whether the rollback had already fired (and what it could not restore).
    .DESCRIPTION
    The task is removed first, then the marker is read: the rollback writes
    the marker as its first act, so a rollback that started just before the
    cancel is still reported.
    #>
    param (
        [string]
        $Directory,

        [bool]
        $CheckMode
    )

    $paths = if ($Directory) { Get-HostsecRollbackPath -Directory $Directory } else { Get-HostsecRollbackPath }
    $task = Get-HostsecRollbackTask
    if ($null -ne $task -and -not $CheckMode) {
        Unregister-ScheduledTask -TaskPath $script:TaskPath -TaskName $script:TaskName -Confirm:$false -ErrorAction Stop
    }
    $fired = $null
    if (Test-Path -LiteralPath $paths.Fired) {
        $fired = Get-Content -LiteralPath $paths.Fired -Raw | ConvertFrom-Json
    }
    if (-not $CheckMode -and $null -eq $fired -and (Test-Path -LiteralPath $paths.Snapshot)) {
        Remove-Item -LiteralPath $paths.Snapshot -Force
    }
    [PSCustomObject]@{
        WasPending = $null -ne $task
        Fired = $null -ne $fired
        Problems = if ($null -ne $fired) { [string[]]@($fired.problems) } else { [string[]]@() }
    }
}

$exportMembers = @{
    Function = @(
        'Confirm-HostsecRollback'
        'Get-HostsecRollbackPath'
        'Get-HostsecRollbackScript'
        'Get-HostsecRollbackSnapshot'
        'Get-HostsecRollbackTask'
        'Invoke-HostsecRollback'
        'New-HostsecPrivateDirectory'
        'Register-HostsecRollback'
    )
}
Export-ModuleMember @exportMembers
