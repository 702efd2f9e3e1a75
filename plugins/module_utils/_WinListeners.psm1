# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
#
# Data gathering for hostsec.ports.win_listening_ports_info. It only reads and
# emits RAW records; all parsing, joining and classification is done in Python
# on the controller (plugins/module_utils/_listeners/windows.py), where it is
# tested. The key names of every hashtable built here are checked against
# windows.RAW_SCHEMA by tests/unit/plugins/module_utils/_listeners/test_windows.py,
# so a key added here must be added there too.

# PIDs Windows gives to kernel pseudo-processes: GetOwner fails on them and
# they have no executable, so they are never reported as unreadable.
$script:KernelPids = @(0, 4)

Function Test-HostsecElevated {
    <#
    .SYNOPSIS
    True when the current token holds the Administrators group (UAC-elevated).
    #>
    [OutputType([bool])]
    param ()

    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object -TypeName Security.Principal.WindowsPrincipal -ArgumentList $identity
    $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
}

Function ConvertTo-HostsecTimestamp {
    <#
    .SYNOPSIS
    ISO 8601 local time with offset, e.g. 2024-05-01T09:12:33+02:00.
    .DESCRIPTION
    Ansible.Basic would serialise a DateTime as "/Date(ms)/" and lose the
    host's offset, which the compat stime field needs.
    #>
    [OutputType([string])]
    param (
        $Value
    )

    if ($null -eq $Value) {
        return $null
    }
    $date = [DateTime]$Value
    $date.ToLocalTime().ToString('yyyy-MM-ddTHH:mm:sszzz', [Globalization.CultureInfo]::InvariantCulture)
}

Function ConvertTo-HostsecEndpoint {
    <#
    .SYNOPSIS
    One raw socket record from an MSFT_NetTCPConnection or MSFT_NetUDPEndpoint.
    #>
    param (
        [Parameter(Mandatory = $true)]
        $InputObject
    )

    [Ordered]@{
        LocalAddress = [string]$InputObject.LocalAddress
        LocalPort = [int]$InputObject.LocalPort
        OwningProcess = [uint32]$InputObject.OwningProcess
    }
}

Function ConvertTo-HostsecProcess {
    <#
    .SYNOPSIS
    One raw process record from a Win32_Process instance and its owner.
    #>
    param (
        [Parameter(Mandatory = $true)]
        $InputObject,

        [AllowNull()]
        [string]
        $Owner
    )

    [Ordered]@{
        ProcessId = [uint32]$InputObject.ProcessId
        Name = $InputObject.Name
        ExecutablePath = $InputObject.ExecutablePath
        CommandLine = $InputObject.CommandLine
        Owner = $Owner
        CreationDate = ConvertTo-HostsecTimestamp -Value $InputObject.CreationDate
    }
}

Function ConvertTo-HostsecService {
    <#
    .SYNOPSIS
    One raw service record from a Win32_Service instance.
    #>
    param (
        [Parameter(Mandatory = $true)]
        $InputObject
    )

    [Ordered]@{
        Name = $InputObject.Name
        DisplayName = $InputObject.DisplayName
        ProcessId = [uint32]$InputObject.ProcessId
        State = $InputObject.State
    }
}

Function ConvertTo-HostsecPortRange {
    <#
    .SYNOPSIS
    The dynamic (ephemeral) port range from an MSFT_NetTCPSetting.
    #>
    param (
        [Parameter(Mandatory = $true)]
        $InputObject
    )

    [Ordered]@{
        StartPort = [int]$InputObject.DynamicPortRangeStartPort
        NumberOfPorts = [int]$InputObject.DynamicPortRangeNumberOfPorts
    }
}

Function New-HostsecRawResult {
    <#
    .SYNOPSIS
    The empty raw result; every key the module can emit is created here.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Collector,

        [bool]
        $Elevated
    )

    [Ordered]@{
        collector = $Collector
        elevated = $Elevated
        tcp = [Collections.Generic.List[Object]]@()
        udp = [Collections.Generic.List[Object]]@()
        netstat = $null
        netsh_dynamicport = $null
        dynamic_port_range = $null
        processes = [Collections.Generic.List[Object]]@()
        services = [Collections.Generic.List[Object]]@()
        unreadable = [Collections.Generic.List[string]]@()
        errors = [Collections.Generic.List[string]]@()
    }
}

Function Invoke-HostsecNative {
    <#
    .SYNOPSIS
    Runs a console program; returns its output lines and exit code.
    .DESCRIPTION
    One place for native calls, so that Pester can mock them.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $FilePath,

        [string[]]
        $ArgumentList = @()
    )

    $lines = @(& $FilePath @ArgumentList 2>&1 | ForEach-Object { [string]$_ })
    [PSCustomObject]@{
        Lines = $lines
        ExitCode = $LASTEXITCODE
    }
}

Function Get-HostsecCollector {
    <#
    .SYNOPSIS
    nettcpip when the NetTCPIP cmdlets exist, else netstat; honours a forced choice.
    #>
    [OutputType([string])]
    param (
        [string]
        $Requested = 'auto'
    )

    if ($Requested -ne 'auto') {
        return $Requested
    }
    if (Get-Command -Name Get-NetTCPConnection -ErrorAction SilentlyContinue) {
        return 'nettcpip'
    }
    'netstat'
}

Function Add-HostsecQueryError {
    <#
    .SYNOPSIS
    Records the errors of a NetTCPIP query, except "no objects found".
    .DESCRIPTION
    Get-NetTCPConnection and Get-NetUDPEndpoint write an ObjectNotFound error
    when nothing matches, which is an empty answer; any other error goes into
    errors so the result says the table may be incomplete instead of failing
    silently.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw,

        [Parameter(Mandatory = $true)]
        [string]
        $Label,

        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]
        $ErrorRecord
    )

    foreach ($err in @($ErrorRecord)) {
        if ($null -ne $err -and $err.CategoryInfo.Category -ne 'ObjectNotFound') {
            $Raw.errors.Add("${Label}: $($err.Exception.Message)")
        }
    }
}

Function Get-HostsecSocket {
    <#
    .SYNOPSIS
    Fills tcp/udp (nettcpip) or netstat (fallback) of a raw result.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    if ($Raw.collector -eq 'nettcpip') {
        $tcpErrors = @()
        $udpErrors = @()
        try {
            $listening = @(Get-NetTCPConnection -State Listen -ErrorAction SilentlyContinue -ErrorVariable tcpErrors)
        }
        catch {
            $listening = @()
            $tcpErrors = @($_)
        }
        try {
            $endpoints = @(Get-NetUDPEndpoint -ErrorAction SilentlyContinue -ErrorVariable udpErrors)
        }
        catch {
            $endpoints = @()
            $udpErrors = @($_)
        }
        foreach ($conn in $listening) {
            $Raw.tcp.Add((ConvertTo-HostsecEndpoint -InputObject $conn))
        }
        foreach ($endpoint in $endpoints) {
            $Raw.udp.Add((ConvertTo-HostsecEndpoint -InputObject $endpoint))
        }
        Add-HostsecQueryError -Raw $Raw -Label 'Get-NetTCPConnection' -ErrorRecord $tcpErrors
        Add-HostsecQueryError -Raw $Raw -Label 'Get-NetUDPEndpoint' -ErrorRecord $udpErrors
        return
    }

    # The netstat text is parsed in Python; only its raw lines go back.
    $netstat = Invoke-HostsecNative -FilePath 'netstat.exe' -ArgumentList @('-ano')
    if ($netstat.ExitCode -ne 0) {
        $Raw.errors.Add("netstat.exe -ano: exit code $($netstat.ExitCode)")
    }
    $Raw.netstat = $netstat.Lines
}

Function Get-HostsecSocketPid {
    <#
    .SYNOPSIS
    The distinct PIDs owning a socket in a raw result.
    .DESCRIPTION
    For the netstat fallback the PID is the last column of a TCP/UDP row; this
    is the only netstat reading done on the host, to know whose processes to
    look up.
    #>
    [OutputType([uint32[]])]
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    $pids = New-Object -TypeName 'Collections.Generic.HashSet[uint32]'
    foreach ($endpoint in @($Raw.tcp) + @($Raw.udp)) {
        if ($null -ne $endpoint) {
            $null = $pids.Add([uint32]$endpoint.OwningProcess)
        }
    }
    foreach ($line in @($Raw.netstat)) {
        $fields = -split [string]$line
        if ($fields.Count -ge 4 -and $fields[0] -in @('TCP', 'UDP') -and $fields[-1] -match '^\d+$') {
            $null = $pids.Add([uint32]$fields[-1])
        }
    }
    , [uint32[]]@($pids | Sort-Object)
}

Function Get-HostsecProcess {
    <#
    .SYNOPSIS
    Fills processes: one Win32_Process query, one GetOwner call per owning PID.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [uint32[]]
        $ProcessId
    )

    $wanted = New-Object -TypeName 'Collections.Generic.HashSet[uint32]'
    foreach ($id in $ProcessId) {
        $null = $wanted.Add($id)
    }
    $unreadable = New-Object -TypeName 'Collections.Generic.HashSet[string]'
    try {
        $all = @(Get-CimInstance -ClassName Win32_Process -Property 'Handle', 'ProcessId', 'Name', 'ExecutablePath', 'CommandLine', 'CreationDate' -ErrorAction Stop)
    }
    catch {
        $Raw.errors.Add("Win32_Process: $($_.Exception.Message)")
        $Raw.unreadable.Add('Name')
        return
    }
    foreach ($proc in $all) {
        $id = [uint32]$proc.ProcessId
        if (-not $wanted.Contains($id)) {
            continue
        }
        $owner = $null
        if ($id -notin $script:KernelPids) {
            try {
                $answer = Invoke-CimMethod -InputObject $proc -MethodName GetOwner -ErrorAction Stop
                if ($answer.ReturnValue -eq 0 -and $answer.User) {
                    $owner = "$($answer.Domain)\$($answer.User)"
                }
                else {
                    $null = $unreadable.Add('Owner')
                }
            }
            catch {
                $null = $unreadable.Add('Owner')
            }
            # Without elevation WMI returns these as null for other users' processes.
            if ($null -eq $proc.ExecutablePath) {
                $null = $unreadable.Add('ExecutablePath')
            }
            if ($null -eq $proc.CommandLine) {
                $null = $unreadable.Add('CommandLine')
            }
        }
        $Raw.processes.Add((ConvertTo-HostsecProcess -InputObject $proc -Owner $owner))
    }
    foreach ($field in ($unreadable | Sort-Object)) {
        $Raw.unreadable.Add($field)
    }
}

Function Get-HostsecService {
    <#
    .SYNOPSIS
    Fills services: one Win32_Service query, kept when the service's PID owns a socket.
    .DESCRIPTION
    Every service of a shared svchost is kept, since any of them may own the port.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [uint32[]]
        $ProcessId
    )

    try {
        $all = @(Get-CimInstance -ClassName Win32_Service -Property 'Name', 'DisplayName', 'ProcessId', 'State' -ErrorAction Stop)
    }
    catch {
        $Raw.errors.Add("Win32_Service: $($_.Exception.Message)")
        return
    }
    foreach ($svc in $all) {
        $id = [uint32]$svc.ProcessId
        if ($id -ne 0 -and $id -in $ProcessId) {
            $Raw.services.Add((ConvertTo-HostsecService -InputObject $svc))
        }
    }
}

Function Get-HostsecPortRange {
    <#
    .SYNOPSIS
    Fills dynamic_port_range (Get-NetTCPSetting) or netsh_dynamicport (fallback).
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    if (Get-Command -Name Get-NetTCPSetting -ErrorAction SilentlyContinue) {
        try {
            # Several setting templates exist; the ones that carry a range all
            # carry the system-wide one, 'Automatic' carries none.
            $settings = @(Get-NetTCPSetting -ErrorAction Stop | Where-Object { $null -ne $_.DynamicPortRangeStartPort })
            if ($settings.Count -gt 0) {
                $Raw.dynamic_port_range = ConvertTo-HostsecPortRange -InputObject $settings[0]
                return
            }
        }
        catch {
            $Raw.errors.Add("Get-NetTCPSetting: $($_.Exception.Message)")
        }
    }
    $netsh = Invoke-HostsecNative -FilePath 'netsh.exe' -ArgumentList @('int', 'ipv4', 'show', 'dynamicport', 'tcp')
    if ($netsh.ExitCode -eq 0) {
        $Raw.netsh_dynamicport = $netsh.Lines
    }
    else {
        $Raw.errors.Add("netsh int ipv4 show dynamicport tcp: exit code $($netsh.ExitCode)")
    }
}

Function Get-HostsecListenerRaw {
    <#
    .SYNOPSIS
    The whole raw result of win_listening_ports_info.
    #>
    param (
        [ValidateSet('auto', 'nettcpip', 'netstat')]
        [string]
        $Collector = 'auto'
    )

    $raw = New-HostsecRawResult -Collector (Get-HostsecCollector -Requested $Collector) -Elevated (Test-HostsecElevated)
    Get-HostsecSocket -Raw $raw
    $pids = Get-HostsecSocketPid -Raw $raw
    Get-HostsecProcess -Raw $raw -ProcessId $pids
    Get-HostsecService -Raw $raw -ProcessId $pids
    Get-HostsecPortRange -Raw $raw
    $raw
}

$exportMembers = @{
    Function = @(
        'Add-HostsecQueryError'
        'ConvertTo-HostsecEndpoint'
        'ConvertTo-HostsecProcess'
        'ConvertTo-HostsecService'
        'ConvertTo-HostsecTimestamp'
        'Get-HostsecCollector'
        'Get-HostsecListenerRaw'
        'Get-HostsecPortRange'
        'Get-HostsecProcess'
        'Get-HostsecService'
        'Get-HostsecSocket'
        'Get-HostsecSocketPid'
        'Invoke-HostsecNative'
        'New-HostsecRawResult'
        'Test-HostsecElevated'
    )
}
Export-ModuleMember @exportMembers
