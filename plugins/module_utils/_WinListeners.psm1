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
    # Get-CimInstance returns CIM datetimes as Kind=Local; only a UTC value is
    # shifted, so a Local or Unspecified one is never moved by the offset twice.
    $date = [DateTime]$Value
    if ($date.Kind -eq [DateTimeKind]::Utc) {
        $date = $date.ToLocalTime()
    }
    $date.ToString('yyyy-MM-ddTHH:mm:sszzz', [Globalization.CultureInfo]::InvariantCulture)
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

        # Untyped: a [string] parameter would turn $null into ''.
        [AllowNull()]
        $FallbackReason,

        [bool]
        $Elevated
    )

    [Ordered]@{
        collector = $Collector
        fallback_reason = $FallbackReason
        elevated = $Elevated
        tcp = [Collections.Generic.List[Object]]@()
        udp = [Collections.Generic.List[Object]]@()
        netstat = $null
        netstat_owner = $null
        http_requestq = $null
        socket_errors = [Collections.Generic.List[string]]@()
        netsh_dynamicport = $null
        netsh_dynamicport_udp = $null
        dynamic_port_range = $null
        udp_dynamic_port_range = $null
        processes = [Collections.Generic.List[Object]]@()
        owner_source = $null
        services = [Collections.Generic.List[Object]]@()
        domain_role = $null
        unreadable = [Collections.Generic.List[string]]@()
        errors = [Collections.Generic.List[string]]@()
    }
}

Function Invoke-HostsecNative {
    <#
    .SYNOPSIS
    Runs a console program; returns its output lines and exit code.
    .DESCRIPTION
    One place for native calls, so that Pester can mock them. Ansible runs
    modules with $ErrorActionPreference = 'Stop', under which Windows
    PowerShell 5.1 turns any stderr line of a redirected native command into a
    terminating NativeCommandError: here stderr lines are collected apart
    instead, and a program that cannot start gives exit code -1, so the
    caller records the reason rather than the module crashing.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $FilePath,

        [string[]]
        $ArgumentList = @()
    )

    $ErrorActionPreference = 'Continue'
    $stdout = [Collections.Generic.List[string]]@()
    $stderr = [Collections.Generic.List[string]]@()
    $exitCode = -1
    $started = $true
    try {
        # ForEach-Object runs its block in this scope, so $started is this one.
        & $FilePath @ArgumentList 2>&1 | ForEach-Object -Process {
            if ($_ -is [Management.Automation.ErrorRecord]) {
                # With EAP Continue a missing program is an error record, not an exception.
                if ($_.Exception -is [Management.Automation.CommandNotFoundException]) {
                    $started = $false
                }
                $stderr.Add([string]$_)
            }
            else {
                $stdout.Add([string]$_)
            }
        }
        if ($started) {
            $exitCode = $LASTEXITCODE
        }
    }
    catch {
        $stderr.Add($_.Exception.Message)
    }
    [PSCustomObject]@{
        Lines = [string[]]$stdout.ToArray()
        ErrorLines = [string[]]$stderr.ToArray()
        ExitCode = $exitCode
    }
}

Function Format-HostsecNativeFailure {
    <#
    .SYNOPSIS
    "netstat.exe -ano: exit code 1: <stderr>" for an error message.
    #>
    [OutputType([string])]
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Command,

        [Parameter(Mandatory = $true)]
        $Result
    )

    $text = "${Command}: exit code $($Result.ExitCode)"
    $stderr = @($Result.ErrorLines | Where-Object { $_ -and $_.Trim() })
    if ($stderr.Count -gt 0) {
        $text += ": $($stderr -join ' ')"
    }
    $text
}

Function Get-HostsecCollector {
    <#
    .SYNOPSIS
    nettcpip when the NetTCPIP cmdlets exist, else netstat; honours a forced choice.
    .DESCRIPTION
    Returns the collector and, for an automatic netstat, the reason. That the
    cmdlets exist does not mean their CIM query works: Get-HostsecSocket falls
    back to netstat again when it fails or comes back empty.
    #>
    param (
        [string]
        $Requested = 'auto'
    )

    if ($Requested -ne 'auto') {
        return [PSCustomObject]@{ Name = $Requested; Reason = $null }
    }
    if (Get-Command -Name Get-NetTCPConnection -ErrorAction SilentlyContinue) {
        return [PSCustomObject]@{ Name = 'nettcpip'; Reason = $null }
    }
    [PSCustomObject]@{ Name = 'netstat'; Reason = 'the NetTCPIP module (Get-NetTCPConnection) is not available' }
}

Function Get-HostsecQueryProblem {
    <#
    .SYNOPSIS
    The errors of a NetTCPIP query as text, except "no objects found".
    .DESCRIPTION
    Get-NetTCPConnection and Get-NetUDPEndpoint write an ObjectNotFound error
    when nothing matches, which is an empty answer; any other error (Invalid
    class, provider load failure, Winmgmt stopped, quota) means the table was
    not read.
    #>
    [OutputType([string[]])]
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Label,

        [AllowNull()]
        [AllowEmptyCollection()]
        [object[]]
        $ErrorRecord
    )

    $problems = [Collections.Generic.List[string]]@()
    foreach ($err in @($ErrorRecord)) {
        if ($null -ne $err -and $err.CategoryInfo.Category -ne 'ObjectNotFound') {
            $problems.Add("${Label}: $($err.Exception.Message)")
        }
    }
    $problems.ToArray()
}

Function Read-HostsecNetTCPIP {
    <#
    .SYNOPSIS
    Listening TCP sockets and UDP endpoints from the NetTCPIP cmdlets, with any problem.
    #>
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
    $problems = @(Get-HostsecQueryProblem -Label 'Get-NetTCPConnection' -ErrorRecord $tcpErrors) +
        @(Get-HostsecQueryProblem -Label 'Get-NetUDPEndpoint' -ErrorRecord $udpErrors)
    [PSCustomObject]@{
        Tcp = $listening
        Udp = $endpoints
        Problems = [string[]]$problems
    }
}

Function Get-HostsecSocket {
    <#
    .SYNOPSIS
    Fills tcp/udp (nettcpip) or netstat (fallback) of a raw result; fails closed.
    .DESCRIPTION
    In auto mode a NetTCPIP query that fails, or that returns no listening TCP
    socket (every Windows host listens on 135/tcp), falls back to netstat and
    fallback_reason says why. A forced collector that fails, or netstat
    failing too, fills socket_errors: the module then fails the host.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw,

        [string]
        $Requested = 'auto'
    )

    if ($Raw.collector -eq 'nettcpip') {
        $read = Read-HostsecNetTCPIP
        $problem = $null
        if ($read.Problems.Count -gt 0) {
            $problem = "the NetTCPIP query failed ($($read.Problems -join '; '))"
        }
        elseif (@($read.Tcp).Count -eq 0) {
            $problem = 'Get-NetTCPConnection returned no listening TCP socket'
        }
        if ($null -eq $problem) {
            foreach ($conn in $read.Tcp) {
                $Raw.tcp.Add((ConvertTo-HostsecEndpoint -InputObject $conn))
            }
            foreach ($endpoint in $read.Udp) {
                $Raw.udp.Add((ConvertTo-HostsecEndpoint -InputObject $endpoint))
            }
            return
        }
        if ($Requested -ne 'auto') {
            $Raw.socket_errors.Add($problem)
            return
        }
        $Raw.collector = 'netstat'
        $Raw.fallback_reason = $problem
    }

    # The netstat text is parsed in Python; only its raw lines go back.
    $netstat = Invoke-HostsecNative -FilePath 'netstat.exe' -ArgumentList @('-ano')
    $Raw.netstat = $netstat.Lines
    if ($netstat.ExitCode -ne 0 -or $netstat.Lines.Count -eq 0) {
        $Raw.socket_errors.Add((Format-HostsecNativeFailure -Command 'netstat.exe -ano' -Result $netstat))
    }
    elseif ($netstat.ErrorLines.Count -gt 0) {
        $Raw.errors.Add("netstat.exe -ano wrote to stderr: $($netstat.ErrorLines -join ' ')")
    }
}

Function Get-HostsecHttpQueue {
    <#
    .SYNOPSIS
    Fills http_requestq (netsh http show servicestate view=requestq) when System owns a TCP listener.
    .DESCRIPTION
    http.sys listens inside System (PID 4) for IIS, WinRM and every other URL
    registration; the request queue view names the processes behind each URL.
    Returns the PIDs of those processes (the "ID: 1234, image: ..." lines), so
    their process and service records are read too; the rest is parsed in Python.
    #>
    [OutputType([uint32[]])]
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    $pids = New-Object -TypeName 'Collections.Generic.HashSet[uint32]'
    $system = @(@($Raw.tcp) | Where-Object { $null -ne $_ -and $_.OwningProcess -eq 4 })
    foreach ($line in @($Raw.netstat)) {
        $fields = -split [string]$line
        if ($fields.Count -ge 5 -and $fields[0] -eq 'TCP' -and $fields[-1] -eq '4') {
            $system += $line
        }
    }
    if ($system.Count -eq 0) {
        return , [uint32[]]@()
    }
    $netsh = Invoke-HostsecNative -FilePath 'netsh.exe' -ArgumentList @('http', 'show', 'servicestate', 'view=requestq')
    if ($netsh.ExitCode -ne 0) {
        $Raw.errors.Add((Format-HostsecNativeFailure -Command 'netsh http show servicestate view=requestq' -Result $netsh))
        return , [uint32[]]@()
    }
    $Raw.http_requestq = $netsh.Lines
    foreach ($line in $netsh.Lines) {
        if ($line -match '^\s*ID:\s*(\d+)\b') {
            $null = $pids.Add([uint32]$Matches[1])
        }
    }
    , [uint32[]]@($pids | Sort-Object)
}

Function Get-HostsecSocketPid {
    <#
    .SYNOPSIS
    The distinct PIDs owning a listening socket in a raw result.
    .DESCRIPTION
    For the netstat fallback the PID is the last column of a UDP row or of a
    TCP row whose foreign port is 0 (a listener: the State column is
    translated, the foreign address is not). Client connections are left out,
    so their processes are never looked up.
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
        if ($fields.Count -lt 4 -or $fields[-1] -notmatch '^\d+$') {
            continue
        }
        $listening = ($fields[0] -eq 'UDP') -or ($fields[0] -eq 'TCP' -and $fields.Count -ge 5 -and $fields[2] -match ':0$')
        if ($listening) {
            $null = $pids.Add([uint32]$fields[-1])
        }
    }
    , [uint32[]]@($pids | Sort-Object)
}

Function Get-HostsecOwner {
    <#
    .SYNOPSIS
    pid -> "DOMAIN\user" for every process, in one call where possible; sets owner_source.
    .DESCRIPTION
    Elevated: one Get-Process -IncludeUserName call. It opens each process
    with PROCESS_QUERY_LIMITED_INFORMATION, which protected processes
    (wininit, services, LSASS with RunAsPPL) allow, where Win32_Process.GetOwner
    asks for more and is denied. Without elevation -IncludeUserName is refused,
    so GetOwner runs once per owning PID instead.
    #>
    [OutputType([Collections.IDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw,

        [AllowEmptyCollection()]
        [object[]]
        $Process = @()
    )

    $owners = @{}
    if ($Raw.elevated) {
        $listed = @()
        try {
            # A process that exits mid-call is a non-terminating error: skipped, not fatal.
            $listed = @(Get-Process -IncludeUserName -ErrorAction SilentlyContinue)
        }
        catch {
            $Raw.errors.Add("Get-Process -IncludeUserName: $($_.Exception.Message); owners read with GetOwner")
        }
        if ($listed.Count -gt 0) {
            foreach ($proc in $listed) {
                if ($proc.UserName) {
                    $owners[[uint32]$proc.Id] = [string]$proc.UserName
                }
            }
            $Raw.owner_source = 'get-process'
            return $owners
        }
    }
    $Raw.owner_source = 'getowner'
    foreach ($proc in $Process) {
        $id = [uint32]$proc.ProcessId
        try {
            $answer = Invoke-CimMethod -InputObject $proc -MethodName GetOwner -ErrorAction Stop
            if ($answer.ReturnValue -eq 0 -and $answer.User) {
                $owners[$id] = "$($answer.Domain)\$($answer.User)"
            }
        }
        catch {
            # Left out: the caller marks the owner unreadable.
            $null = $_
        }
    }
    $owners
}

Function Get-HostsecProcess {
    <#
    .SYNOPSIS
    Fills processes: one Win32_Process query and one owner read for the owning PIDs.
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
    $owning = @($all | Where-Object { $wanted.Contains([uint32]$_.ProcessId) })
    $users = Get-HostsecOwner -Raw $Raw -Process @($owning | Where-Object { [uint32]$_.ProcessId -notin $script:KernelPids })
    foreach ($proc in $owning) {
        $id = [uint32]$proc.ProcessId
        $owner = $null
        if ($id -notin $script:KernelPids) {
            if ($users.Contains($id)) {
                $owner = $users[$id]
            }
            else {
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
    Every service of a shared svchost is kept; which of them owns a socket is
    told by its service tag (Get-HostsecServiceTag), never guessed.
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

Function Get-HostsecServiceTag {
    <#
    .SYNOPSIS
    Fills netstat_owner (netstat -anob) when a socket's process hosts several services.
    .DESCRIPTION
    netstat -b prints under each socket the component that created it: for a
    svchost socket the service named by its service tag, which is what
    GetOwnerModuleFromTcpEntry returns. It needs elevation and is slow on busy
    hosts, so it runs only elevated and only when some owning process hosts
    more than one service; the Python side accepts a name only if that
    process hosts it.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    if (-not $Raw.elevated) {
        return
    }
    # A scriptblock, not -Property ProcessId: 5.1 does not read dictionary keys as properties there.
    $shared = @($Raw.services | Group-Object -Property { $_.ProcessId } | Where-Object { $_.Count -gt 1 })
    if ($shared.Count -eq 0) {
        return
    }
    $netstat = Invoke-HostsecNative -FilePath 'netstat.exe' -ArgumentList @('-anob')
    if ($netstat.ExitCode -ne 0) {
        $Raw.errors.Add((Format-HostsecNativeFailure -Command 'netstat.exe -anob' -Result $netstat))
        return
    }
    $Raw.netstat_owner = $netstat.Lines
}

Function Get-HostsecPortRange {
    <#
    .SYNOPSIS
    Fills the TCP and UDP dynamic port ranges (Get-Net*Setting), or the netsh text as fallback.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    foreach ($protocol in @('tcp', 'udp')) {
        $cmdlet = if ($protocol -eq 'tcp') { 'Get-NetTCPSetting' } else { 'Get-NetUDPSetting' }
        $range = $null
        if (Get-Command -Name $cmdlet -ErrorAction SilentlyContinue) {
            try {
                # Several TCP setting templates exist; the ones that carry a range
                # all carry the system-wide one, 'Automatic' carries none.
                $settings = @(& $cmdlet -ErrorAction Stop | Where-Object { $null -ne $_.DynamicPortRangeStartPort })
                if ($settings.Count -gt 0) {
                    $range = ConvertTo-HostsecPortRange -InputObject $settings[0]
                }
            }
            catch {
                $Raw.errors.Add("${cmdlet}: $($_.Exception.Message)")
            }
        }
        if ($null -ne $range) {
            if ($protocol -eq 'tcp') {
                $Raw.dynamic_port_range = $range
            }
            else {
                $Raw.udp_dynamic_port_range = $range
            }
            continue
        }
        $netsh = Invoke-HostsecNative -FilePath 'netsh.exe' -ArgumentList @('int', 'ipv4', 'show', 'dynamicport', $protocol)
        if ($netsh.ExitCode -ne 0) {
            $Raw.errors.Add((Format-HostsecNativeFailure -Command "netsh int ipv4 show dynamicport $protocol" -Result $netsh))
        }
        elseif ($protocol -eq 'tcp') {
            $Raw.netsh_dynamicport = $netsh.Lines
        }
        else {
            $Raw.netsh_dynamicport_udp = $netsh.Lines
        }
    }
}

Function Get-HostsecDomainRole {
    <#
    .SYNOPSIS
    Fills domain_role (Win32_ComputerSystem.DomainRole; 4 and 5 are domain controllers).
    #>
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Raw
    )

    try {
        $system = Get-CimInstance -ClassName Win32_ComputerSystem -Property 'DomainRole' -ErrorAction Stop
        $Raw.domain_role = [int]$system.DomainRole
    }
    catch {
        $Raw.errors.Add("Win32_ComputerSystem: $($_.Exception.Message)")
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

    $choice = Get-HostsecCollector -Requested $Collector
    $raw = New-HostsecRawResult -Collector $choice.Name -FallbackReason $choice.Reason -Elevated (Test-HostsecElevated)
    Get-HostsecSocket -Raw $raw -Requested $Collector
    if ($raw.socket_errors.Count -gt 0) {
        return $raw
    }
    $queuePids = Get-HostsecHttpQueue -Raw $raw
    $socketPids = Get-HostsecSocketPid -Raw $raw
    $pids = [uint32[]]@(@($socketPids) + @($queuePids) | Sort-Object -Unique)
    Get-HostsecProcess -Raw $raw -ProcessId $pids
    Get-HostsecService -Raw $raw -ProcessId $pids
    Get-HostsecServiceTag -Raw $raw
    Get-HostsecPortRange -Raw $raw
    Get-HostsecDomainRole -Raw $raw
    $raw
}

$exportMembers = @{
    Function = @(
        'ConvertTo-HostsecEndpoint'
        'ConvertTo-HostsecPortRange'
        'ConvertTo-HostsecProcess'
        'ConvertTo-HostsecService'
        'ConvertTo-HostsecTimestamp'
        'Format-HostsecNativeFailure'
        'Get-HostsecCollector'
        'Get-HostsecDomainRole'
        'Get-HostsecHttpQueue'
        'Get-HostsecListenerRaw'
        'Get-HostsecOwner'
        'Get-HostsecPortRange'
        'Get-HostsecProcess'
        'Get-HostsecQueryProblem'
        'Get-HostsecService'
        'Get-HostsecServiceTag'
        'Get-HostsecSocket'
        'Get-HostsecSocketPid'
        'Invoke-HostsecNative'
        'New-HostsecRawResult'
        'Read-HostsecNetTCPIP'
        'Test-HostsecElevated'
    )
}
Export-ModuleMember @exportMembers
