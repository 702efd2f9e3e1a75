# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Pester 5 tests for plugins/module_utils/_WinListeners.psm1 with the Windows
# cmdlets mocked. Run on Windows: Invoke-Pester -Path tests/windows -Output Detailed
# (the Windows workflow does). The real cmdlets are exercised by the
# ansible-test target tests/integration/targets/win_listening_ports_info.

BeforeAll {
    # As Ansible runs modules (module_wrapper.ps1 sets it in the runspace):
    # a stray stderr line or non-terminating error must not crash the code.
    $ErrorActionPreference = 'Stop'
    # A non-UTC zone with an offset, so a date shifted twice cannot pass.
    $script:OriginalTimeZone = (Get-TimeZone).Id
    Set-TimeZone -Id 'Tokyo Standard Time'
    [TimeZoneInfo]::ClearCachedData()

    $moduleUtil = Join-Path -Path $PSScriptRoot -ChildPath '../../plugins/module_utils/_WinListeners.psm1'
    Import-Module -Name $moduleUtil -Force
    $script:ModuleName = '_WinListeners'

    # The keys of windows.RAW_SCHEMA in plugins/module_utils/_listeners/windows.py.
    $script:RawKeys = @(
        'collector'
        'fallback_reason'
        'elevated'
        'tcp'
        'udp'
        'netstat'
        'netstat_owner'
        'http_requestq'
        'socket_errors'
        'netsh_dynamicport'
        'netsh_dynamicport_udp'
        'dynamic_port_range'
        'udp_dynamic_port_range'
        'processes'
        'owner_source'
        'services'
        'domain_role'
        'unreadable'
        'errors'
    )

    Function New-TestProcess {
        param (
            [int]
            $ProcessId,

            [string]
            $Name,

            [string]
            $ExecutablePath,

            [string]
            $CommandLine
        )

        $properties = @{
            Handle = [string]$ProcessId
            ProcessId = [uint32]$ProcessId
            Name = $Name
            # Get-CimInstance hands CIM datetimes back as Kind=Local DateTime values.
            CreationDate = [DateTime]::new(2024, 5, 6, 7, 58, 19, [DateTimeKind]::Local)
        }
        # Win32_Process leaves these null for processes the caller may not open.
        if ($ExecutablePath) {
            $properties.ExecutablePath = $ExecutablePath
        }
        if ($CommandLine) {
            $properties.CommandLine = $CommandLine
        }
        New-CimInstance -ClassName Win32_Process -Namespace root/cimv2 -Property $properties -ClientOnly
    }

    Function New-TestService {
        param (
            [string]
            $Name,

            [int]
            $ProcessId
        )

        [PSCustomObject]@{
            Name = $Name
            DisplayName = "$Name display name"
            ProcessId = [uint32]$ProcessId
            State = 'Running'
        }
    }

    Function New-TestEndpoint {
        param (
            [string]
            $Address,

            [int]
            $Port,

            [int]
            $OwningProcess
        )

        [PSCustomObject]@{
            LocalAddress = $Address
            LocalPort = [uint16]$Port
            OwningProcess = [uint32]$OwningProcess
            State = 'Listen'
        }
    }

    Function New-TestNative {
        param (
            [string[]]
            $Lines = @(),

            [string[]]
            $ErrorLines = @(),

            [int]
            $ExitCode = 0
        )

        [PSCustomObject]@{ Lines = $Lines; ErrorLines = $ErrorLines; ExitCode = $ExitCode }
    }

    Function Set-CommonMock {
        # Everything a run reads besides the sockets, with real-looking answers.
        Mock -ModuleName $script:ModuleName Get-Command { [PSCustomObject]@{ Name = $Name } }
        Mock -ModuleName $script:ModuleName Get-NetTCPSetting {
            [PSCustomObject]@{ SettingName = 'Automatic'; DynamicPortRangeStartPort = $null; DynamicPortRangeNumberOfPorts = $null }
            [PSCustomObject]@{ SettingName = 'Internet'; DynamicPortRangeStartPort = 49152; DynamicPortRangeNumberOfPorts = 16384 }
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPSetting {
            [PSCustomObject]@{ DynamicPortRangeStartPort = 10000; DynamicPortRangeNumberOfPorts = 5000 }
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_ComputerSystem' } {
            [PSCustomObject]@{ DomainRole = [uint16]3 }
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Process' } {
            New-TestProcess -ProcessId 4 -Name 'System'
            New-TestProcess -ProcessId 548 -Name 'wininit.exe'
            New-TestProcess -ProcessId 1012 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k RPCSS -p'
            New-TestProcess -ProcessId 1880 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k NetworkService -p'
            New-TestProcess -ProcessId 3608 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k NetworkService -p -s WinRM'
            New-TestProcess -ProcessId 5120 -Name 'python.exe' -ExecutablePath 'C:\Python312\python.exe' -CommandLine 'python.exe -m http.server'
            New-TestProcess -ProcessId 9000 -Name 'notepad.exe' -ExecutablePath 'C:\Windows\notepad.exe' -CommandLine 'notepad.exe'
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Service' } {
            New-TestService -Name 'RpcEptMapper' -ProcessId 1012
            New-TestService -Name 'RpcSs' -ProcessId 1012
            New-TestService -Name 'Dnscache' -ProcessId 1880
            New-TestService -Name 'NlaSvc' -ProcessId 1880
            New-TestService -Name 'WinRM' -ProcessId 3608
            New-TestService -Name 'Spooler' -ProcessId 2260
            New-TestService -Name 'Stopped' -ProcessId 0
        }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netsh.exe' -and $ArgumentList -contains 'servicestate' } {
            New-TestNative -Lines @(
                'Request queue name: Request queue is unnamed.'
                '    Processes:'
                '        ID: 3608, image: C:\Windows\System32\svchost.exe'
                '    Registered URLs:'
                '        HTTP://+:5985/WSMAN/'
            )
        }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netstat.exe' -and $ArgumentList -contains '-anob' } {
            New-TestNative -Lines @(
                '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012'
                '  RpcSs'
                ' [svchost.exe]'
            )
        }
    }
}

AfterAll {
    Remove-Module -Name _WinListeners -Force -ErrorAction SilentlyContinue
    Set-TimeZone -Id $script:OriginalTimeZone
    [TimeZoneInfo]::ClearCachedData()
}

Describe 'Test environment' {
    It 'runs as Ansible runs modules: ErrorActionPreference Stop, a non-UTC time zone' {
        $ErrorActionPreference | Should -Be 'Stop'
        [TimeZoneInfo]::Local.BaseUtcOffset | Should -Not -Be ([TimeSpan]::Zero)
    }
}

Describe 'ConvertTo-HostsecEndpoint' {
    It 'keeps address, port and PID with JSON-friendly types' {
        $record = ConvertTo-HostsecEndpoint -InputObject (New-TestEndpoint -Address 'fe80::1%12' -Port 9100 -OwningProcess 7004)

        @($record.Keys) | Should -Be @('LocalAddress', 'LocalPort', 'OwningProcess')
        $record.LocalAddress | Should -Be 'fe80::1%12'
        $record.LocalPort | Should -BeOfType [int]
        $record.OwningProcess | Should -BeOfType [uint32]
    }
}

Describe 'ConvertTo-HostsecTimestamp' {
    It 'writes a Local CIM date as it is, with the local offset' {
        $date = [DateTime]::new(2021, 11, 18, 15, 27, 42, [DateTimeKind]::Local)
        ConvertTo-HostsecTimestamp -Value $date | Should -Be '2021-11-18T15:27:42+09:00'
    }

    It 'does not shift an Unspecified date' {
        $date = [DateTime]::new(2021, 11, 18, 15, 27, 42, [DateTimeKind]::Unspecified)
        ConvertTo-HostsecTimestamp -Value $date | Should -Be '2021-11-18T15:27:42+09:00'
    }

    It 'turns a UTC date into local time' {
        $date = [DateTime]::new(2021, 11, 18, 6, 27, 42, [DateTimeKind]::Utc)
        ConvertTo-HostsecTimestamp -Value $date | Should -Be '2021-11-18T15:27:42+09:00'
    }

    It 'keeps null as null' {
        ConvertTo-HostsecTimestamp -Value $null | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-HostsecNative under ErrorActionPreference Stop' {
    It 'keeps stderr lines apart instead of throwing NativeCommandError' {
        $result = Invoke-HostsecNative -FilePath 'cmd.exe' -ArgumentList @('/c', 'echo out & echo err 1>&2 & exit 3')

        @($result.Lines) | Should -HaveCount 1
        $result.Lines[0].Trim() | Should -Be 'out'
        @($result.ErrorLines) | Should -HaveCount 1
        $result.ErrorLines[0] | Should -BeLike 'err*'
        $result.ExitCode | Should -Be 3
    }

    It 'gives exit code -1 and the reason for a program that cannot start' {
        $result = Invoke-HostsecNative -FilePath 'hostsec-no-such-program.exe'

        $result.ExitCode | Should -Be -1
        @($result.ErrorLines).Count | Should -BeGreaterThan 0
    }
}

Describe 'Get-HostsecCollector' {
    It 'chooses nettcpip when Get-NetTCPConnection exists' {
        Mock -ModuleName $script:ModuleName Get-Command { [PSCustomObject]@{ Name = 'Get-NetTCPConnection' } }
        (Get-HostsecCollector).Name | Should -Be 'nettcpip'
    }

    It 'falls back to netstat without the NetTCPIP module, and says why' {
        Mock -ModuleName $script:ModuleName Get-Command { $null }
        $choice = Get-HostsecCollector
        $choice.Name | Should -Be 'netstat'
        $choice.Reason | Should -BeLike '*NetTCPIP module*not available*'
    }

    It 'honours a forced collector' {
        (Get-HostsecCollector -Requested 'netstat').Name | Should -Be 'netstat'
    }
}

Describe 'Get-HostsecListenerRaw with NetTCPIP, elevated' {
    BeforeAll {
        Set-CommonMock
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $true }
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            New-TestEndpoint -Address '0.0.0.0' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '::' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '0.0.0.0' -Port 445 -OwningProcess 4
            New-TestEndpoint -Address '0.0.0.0' -Port 5985 -OwningProcess 4
            New-TestEndpoint -Address '0.0.0.0' -Port 49664 -OwningProcess 548
            New-TestEndpoint -Address '127.0.0.1' -Port 8080 -OwningProcess 5120
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint {
            New-TestEndpoint -Address '0.0.0.0' -Port 5353 -OwningProcess 1880
        }
        # One call for every owner; wininit is a protected process and still has one.
        Mock -ModuleName $script:ModuleName Get-Process {
            [PSCustomObject]@{ Id = 548; UserName = 'NT AUTHORITY\SYSTEM' }
            [PSCustomObject]@{ Id = 1012; UserName = 'NT AUTHORITY\NETWORK SERVICE' }
            [PSCustomObject]@{ Id = 1880; UserName = 'NT AUTHORITY\NETWORK SERVICE' }
            [PSCustomObject]@{ Id = 3608; UserName = 'NT AUTHORITY\NETWORK SERVICE' }
            [PSCustomObject]@{ Id = 5120; UserName = 'WIN-7QH4K2\Administrator' }
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod { throw 'GetOwner must not be called when elevated' }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netstat.exe' -and $ArgumentList -contains '-ano' } {
            throw 'no netstat fallback expected'
        }

        $script:Raw = Get-HostsecListenerRaw
    }

    It 'emits exactly the keys of RAW_SCHEMA' {
        @($script:Raw.Keys) | Should -Be $script:RawKeys
    }

    It 'reports the collector and elevation' {
        $script:Raw.collector | Should -Be 'nettcpip'
        $script:Raw.fallback_reason | Should -BeNullOrEmpty
        $script:Raw.elevated | Should -BeTrue
        $script:Raw.netstat | Should -BeNullOrEmpty
        $script:Raw.socket_errors.Count | Should -Be 0
    }

    It 'asks only for listening TCP sockets' {
        Should -Invoke Get-NetTCPConnection -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $State -contains 'Listen' }
        $script:Raw.tcp.Count | Should -Be 6
        $script:Raw.udp.Count | Should -Be 1
    }

    It 'queries Win32_Process and Win32_Service once each' {
        Should -Invoke Get-CimInstance -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ClassName -eq 'Win32_Process' }
        Should -Invoke Get-CimInstance -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ClassName -eq 'Win32_Service' }
    }

    It 'reads every owner with one Get-Process -IncludeUserName call' {
        Should -Invoke Get-Process -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $IncludeUserName }
        $script:Raw.owner_source | Should -Be 'get-process'
        ($script:Raw.processes | Where-Object { $_.ProcessId -eq 548 }).Owner | Should -Be 'NT AUTHORITY\SYSTEM'
        @($script:Raw.unreadable) | Should -Not -Contain 'Owner'
    }

    It 'keeps only processes that own a socket or an http.sys request queue' {
        @($script:Raw.processes | ForEach-Object { $_.ProcessId }) | Sort-Object | Should -Be @(4, 548, 1012, 1880, 3608, 5120)
        $system = $script:Raw.processes | Where-Object { $_.ProcessId -eq 4 }
        $system.Name | Should -Be 'System'
        $system.Owner | Should -BeNullOrEmpty
        $system.ExecutablePath | Should -BeNullOrEmpty
        $python = $script:Raw.processes | Where-Object { $_.ProcessId -eq 5120 }
        $python.CreationDate | Should -Be '2024-05-06T07:58:19+09:00'
        @($python.Keys) | Should -Be @('ProcessId', 'Name', 'ExecutablePath', 'CommandLine', 'Owner', 'CreationDate')
    }

    It 'names a null ExecutablePath (protected process) as unreadable' {
        ($script:Raw.processes | Where-Object { $_.ProcessId -eq 548 }).ExecutablePath | Should -BeNullOrEmpty
        @($script:Raw.unreadable) | Should -Contain 'ExecutablePath'
    }

    It 'lists every service of a shared svchost' {
        @($script:Raw.services | ForEach-Object { $_.Name }) | Sort-Object | Should -Be @('Dnscache', 'NlaSvc', 'RpcEptMapper', 'RpcSs', 'WinRM')
        @($script:Raw.services[0].Keys) | Should -Be @('Name', 'DisplayName', 'ProcessId', 'State')
    }

    It 'reads the service tags with netstat -anob once, because a svchost is shared' {
        Should -Invoke Invoke-HostsecNative -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ArgumentList -contains '-anob' }
        @($script:Raw.netstat_owner) | Should -Contain '  RpcSs'
    }

    It 'reads the http.sys request queues because System listens' {
        Should -Invoke Invoke-HostsecNative -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ArgumentList -contains 'view=requestq' }
        @($script:Raw.http_requestq) | Should -Contain '        HTTP://+:5985/WSMAN/'
    }

    It 'reads the TCP and the UDP dynamic port ranges' {
        $script:Raw.dynamic_port_range.StartPort | Should -Be 49152
        $script:Raw.dynamic_port_range.NumberOfPorts | Should -Be 16384
        $script:Raw.udp_dynamic_port_range.StartPort | Should -Be 10000
        $script:Raw.udp_dynamic_port_range.NumberOfPorts | Should -Be 5000
        $script:Raw.netsh_dynamicport | Should -BeNullOrEmpty
    }

    It 'reads the domain role' {
        $script:Raw.domain_role | Should -Be 3
    }

    It 'has no errors' {
        $script:Raw.errors.Count | Should -Be 0
    }

    It 'serialises to the JSON shape the Python schema expects' {
        $json = $script:Raw | ConvertTo-Json -Depth 5 -Compress
        $back = $json | ConvertFrom-Json
        # Windows PowerShell reads JSON integers as Int32, PowerShell 7 as Int64
        ($back.tcp[0].LocalPort -is [int] -or $back.tcp[0].LocalPort -is [long]) | Should -BeTrue
        # checked on the text: PowerShell 7's ConvertFrom-Json turns ISO dates back into DateTime
        $json | Should -Match '"CreationDate":"2024-05-06T07:58:19\+09:00"'
        $json | Should -Match '"fallback_reason":null'
        $back.unreadable.GetType().IsArray | Should -BeTrue
    }
}

Describe 'Get-HostsecListenerRaw without elevation' {
    BeforeAll {
        Set-CommonMock
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $false }
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            New-TestEndpoint -Address '0.0.0.0' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '127.0.0.1' -Port 8080 -OwningProcess 5120
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint {
            Write-Error -Message 'No MSFT_NetUDPEndpoint objects found' -Category ObjectNotFound
        }
        Mock -ModuleName $script:ModuleName Get-Process { throw 'Get-Process -IncludeUserName needs elevation' }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod -ParameterFilter { $InputObject.ProcessId -eq 1012 } {
            [PSCustomObject]@{ ReturnValue = 2; Domain = $null; User = $null }
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod -ParameterFilter { $InputObject.ProcessId -eq 5120 } {
            [PSCustomObject]@{ ReturnValue = 0; Domain = 'WIN-7QH4K2'; User = 'alice' }
        }
        Mock -ModuleName $script:ModuleName Get-NetTCPSetting { throw 'Access denied' }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netsh.exe' -and $ArgumentList -contains 'dynamicport' } {
            New-TestNative -Lines @('Start Port      : 49152', 'Number of Ports : 16384')
        }

        $script:Raw = Get-HostsecListenerRaw
    }

    It 'names the fields it could not read' {
        $script:Raw.elevated | Should -BeFalse
        @($script:Raw.unreadable) | Should -Contain 'Owner'
    }

    It 'falls back to GetOwner once per owning PID, never Get-Process -IncludeUserName' {
        Should -Invoke Get-Process -ModuleName $script:ModuleName -Times 0 -Exactly
        Should -Invoke Invoke-CimMethod -ModuleName $script:ModuleName -Times 2 -Exactly
        $script:Raw.owner_source | Should -Be 'getowner'
        ($script:Raw.processes | Where-Object { $_.ProcessId -eq 5120 }).Owner | Should -Be 'WIN-7QH4K2\alice'
    }

    It 'does not run netstat -anob (it needs elevation)' {
        Should -Invoke Invoke-HostsecNative -ModuleName $script:ModuleName -Times 0 -Exactly -ParameterFilter { $ArgumentList -contains '-anob' }
        $script:Raw.netstat_owner | Should -BeNullOrEmpty
    }

    It 'treats "no UDP endpoints" as empty, not as an error' {
        $script:Raw.udp.Count | Should -Be 0
        $script:Raw.socket_errors.Count | Should -Be 0
        $script:Raw.collector | Should -Be 'nettcpip'
    }

    It 'falls back to netsh for the TCP dynamic range and records why' {
        @($script:Raw.netsh_dynamicport) | Should -Be @('Start Port      : 49152', 'Number of Ports : 16384')
        @($script:Raw.errors | Where-Object { $_ -like 'Get-NetTCPSetting*' }).Count | Should -Be 1
    }
}

Describe 'Fail closed: a failed or empty CIM query' {
    BeforeEach {
        Set-CommonMock
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $true }
        Mock -ModuleName $script:ModuleName Get-Process { [PSCustomObject]@{ Id = 1012; UserName = 'NT AUTHORITY\NETWORK SERVICE' } }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint { @() }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netstat.exe' -and $ArgumentList -contains '-ano' } {
            New-TestNative -Lines @(
                '  Proto  Local Address          Foreign Address        State           PID'
                '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1012'
                '  TCP    10.0.2.15:5985         10.0.2.2:50412         ESTABLISHED     9000'
                '  UDP    0.0.0.0:5353           *:*                                    1880'
            ) -ErrorLines @('a stray stderr line')
        }
    }

    It 'falls back to netstat in auto mode when the query fails, and says why' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            Write-Error -Message 'Invalid class' -Category InvalidType
        }
        $raw = Get-HostsecListenerRaw

        $raw.collector | Should -Be 'netstat'
        $raw.fallback_reason | Should -BeLike '*NetTCPIP query failed*Get-NetTCPConnection: Invalid class*'
        $raw.socket_errors.Count | Should -Be 0
        $raw.netstat.Count | Should -Be 4
        @($raw.errors) | Should -Contain 'netstat.exe -ano wrote to stderr: a stray stderr line'
    }

    It 'falls back to netstat when the query throws (Winmgmt stopped)' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection { throw 'The RPC server is unavailable' }
        $raw = Get-HostsecListenerRaw

        $raw.collector | Should -Be 'netstat'
        $raw.fallback_reason | Should -BeLike '*RPC server is unavailable*'
    }

    It 'falls back to netstat when the query returns no listening TCP socket' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection { @() }
        $raw = Get-HostsecListenerRaw

        $raw.collector | Should -Be 'netstat'
        $raw.fallback_reason | Should -Be 'Get-NetTCPConnection returned no listening TCP socket'
    }

    It 'looks up only the processes of listening rows in netstat' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection { @() }
        $raw = Get-HostsecListenerRaw

        @($raw.processes | ForEach-Object { $_.ProcessId }) | Should -Not -Contain 9000
    }

    It 'fails the read (socket_errors) when netstat fails too' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection { @() }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netstat.exe' -and $ArgumentList -contains '-ano' } {
            New-TestNative -ErrorLines @('The system cannot find the file specified.') -ExitCode -1
        }
        $raw = Get-HostsecListenerRaw

        @($raw.socket_errors) | Should -HaveCount 1
        $raw.socket_errors[0] | Should -BeLike 'netstat.exe -ano: exit code -1: The system cannot find*'
        $raw.processes.Count | Should -Be 0
    }

    It 'fails the read instead of falling back when nettcpip was forced' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            Write-Error -Message 'Provider load failure' -Category InvalidOperation
        }
        $raw = Get-HostsecListenerRaw -Collector 'nettcpip'

        $raw.collector | Should -Be 'nettcpip'
        $raw.socket_errors[0] | Should -BeLike '*Provider load failure*'
        Should -Invoke Invoke-HostsecNative -ModuleName $script:ModuleName -Times 0 -Exactly -ParameterFilter { $ArgumentList -contains '-ano' }
    }
}
