# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Pester 5 tests for plugins/module_utils/_WinListeners.psm1 with the Windows
# cmdlets mocked. Run on Windows: Invoke-Pester -Path tests/windows -Output Detailed
# (the Windows workflow does). The real cmdlets are exercised by the
# ansible-test target tests/integration/targets/win_listening_ports_info.

BeforeAll {
    $moduleUtil = Join-Path -Path $PSScriptRoot -ChildPath '../../plugins/module_utils/_WinListeners.psm1'
    Import-Module -Name $moduleUtil -Force
    $script:ModuleName = '_WinListeners'

    # The keys of windows.RAW_SCHEMA in plugins/module_utils/_listeners/windows.py.
    $script:RawKeys = @(
        'collector'
        'elevated'
        'tcp'
        'udp'
        'netstat'
        'netsh_dynamicport'
        'dynamic_port_range'
        'processes'
        'services'
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
}

AfterAll {
    Remove-Module -Name _WinListeners -Force -ErrorAction SilentlyContinue
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
    It 'writes local time with its offset' {
        $date = [DateTime]::new(2021, 11, 18, 15, 27, 42, [DateTimeKind]::Local)
        $text = ConvertTo-HostsecTimestamp -Value $date

        $text | Should -Match '^2021-11-18T15:27:42[+-]\d\d:\d\d$'
    }

    It 'keeps null as null' {
        ConvertTo-HostsecTimestamp -Value $null | Should -BeNullOrEmpty
    }
}

Describe 'Get-HostsecCollector' {
    It 'chooses nettcpip when Get-NetTCPConnection exists' {
        Mock -ModuleName $script:ModuleName Get-Command { [PSCustomObject]@{ Name = 'Get-NetTCPConnection' } }
        Get-HostsecCollector | Should -Be 'nettcpip'
    }

    It 'falls back to netstat without the NetTCPIP module' {
        Mock -ModuleName $script:ModuleName Get-Command { $null }
        Get-HostsecCollector | Should -Be 'netstat'
    }

    It 'honours a forced collector' {
        Get-HostsecCollector -Requested 'netstat' | Should -Be 'netstat'
    }
}

Describe 'Get-HostsecListenerRaw with NetTCPIP, elevated' {
    BeforeAll {
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $true }
        Mock -ModuleName $script:ModuleName Get-Command { [PSCustomObject]@{ Name = $Name } }
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            New-TestEndpoint -Address '0.0.0.0' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '::' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '0.0.0.0' -Port 445 -OwningProcess 4
            New-TestEndpoint -Address '127.0.0.1' -Port 8080 -OwningProcess 5120
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint {
            New-TestEndpoint -Address '0.0.0.0' -Port 5353 -OwningProcess 1880
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Process' } {
            New-TestProcess -ProcessId 4 -Name 'System'
            New-TestProcess -ProcessId 1012 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k RPCSS -p'
            New-TestProcess -ProcessId 1880 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k NetworkService -p'
            New-TestProcess -ProcessId 5120 -Name 'python.exe' -ExecutablePath 'C:\Python312\python.exe' -CommandLine 'python.exe -m http.server'
            New-TestProcess -ProcessId 9000 -Name 'notepad.exe' -ExecutablePath 'C:\Windows\notepad.exe' -CommandLine 'notepad.exe'
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Service' } {
            New-TestService -Name 'RpcEptMapper' -ProcessId 1012
            New-TestService -Name 'RpcSs' -ProcessId 1012
            New-TestService -Name 'Dnscache' -ProcessId 1880
            New-TestService -Name 'NlaSvc' -ProcessId 1880
            New-TestService -Name 'Spooler' -ProcessId 2260
            New-TestService -Name 'Stopped' -ProcessId 0
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod {
            [PSCustomObject]@{ ReturnValue = 0; Domain = 'NT AUTHORITY'; User = 'NETWORK SERVICE' }
        }
        Mock -ModuleName $script:ModuleName Get-NetTCPSetting {
            [PSCustomObject]@{ SettingName = 'Automatic'; DynamicPortRangeStartPort = $null; DynamicPortRangeNumberOfPorts = $null }
            [PSCustomObject]@{ SettingName = 'Internet'; DynamicPortRangeStartPort = 49152; DynamicPortRangeNumberOfPorts = 16384 }
        }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative { throw 'no native call expected' }

        $script:Raw = Get-HostsecListenerRaw
    }

    It 'emits exactly the keys of RAW_SCHEMA' {
        @($script:Raw.Keys) | Should -Be $script:RawKeys
    }

    It 'reports the collector and elevation' {
        $script:Raw.collector | Should -Be 'nettcpip'
        $script:Raw.elevated | Should -BeTrue
        $script:Raw.netstat | Should -BeNullOrEmpty
    }

    It 'asks only for listening TCP sockets' {
        Should -Invoke Get-NetTCPConnection -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $State -contains 'Listen' }
        $script:Raw.tcp.Count | Should -Be 4
        $script:Raw.udp.Count | Should -Be 1
    }

    It 'queries Win32_Process and Win32_Service once each' {
        Should -Invoke Get-CimInstance -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ClassName -eq 'Win32_Process' }
        Should -Invoke Get-CimInstance -ModuleName $script:ModuleName -Times 1 -Exactly -ParameterFilter { $ClassName -eq 'Win32_Service' }
    }

    It 'calls GetOwner once per owning PID, never per socket nor for System' {
        # 1012 owns two sockets; 4 is the kernel; 9000 owns none
        Should -Invoke Invoke-CimMethod -ModuleName $script:ModuleName -Times 3 -Exactly
    }

    It 'keeps only processes that own a socket' {
        @($script:Raw.processes | ForEach-Object { $_.ProcessId }) | Sort-Object | Should -Be @(4, 1012, 1880, 5120)
        $system = $script:Raw.processes | Where-Object { $_.ProcessId -eq 4 }
        $system.Name | Should -Be 'System'
        $system.Owner | Should -BeNullOrEmpty
        $system.ExecutablePath | Should -BeNullOrEmpty
        $python = $script:Raw.processes | Where-Object { $_.ProcessId -eq 5120 }
        $python.Owner | Should -Be 'NT AUTHORITY\NETWORK SERVICE'
        $python.CreationDate | Should -Match '^2024-05-06T07:58:19[+-]\d\d:\d\d$'
        @($python.Keys) | Should -Be @('ProcessId', 'Name', 'ExecutablePath', 'CommandLine', 'Owner', 'CreationDate')
    }

    It 'lists every service of a shared svchost' {
        @($script:Raw.services | ForEach-Object { $_.Name }) | Sort-Object | Should -Be @('Dnscache', 'NlaSvc', 'RpcEptMapper', 'RpcSs')
        @($script:Raw.services[0].Keys) | Should -Be @('Name', 'DisplayName', 'ProcessId', 'State')
    }

    It 'reads the dynamic port range from the setting that has one' {
        $script:Raw.dynamic_port_range.StartPort | Should -Be 49152
        $script:Raw.dynamic_port_range.NumberOfPorts | Should -Be 16384
        $script:Raw.netsh_dynamicport | Should -BeNullOrEmpty
    }

    It 'has nothing unreadable and no errors' {
        $script:Raw.unreadable.Count | Should -Be 0
        $script:Raw.errors.Count | Should -Be 0
    }

    It 'serialises to the JSON shape the Python schema expects' {
        $json = $script:Raw | ConvertTo-Json -Depth 5 -Compress
        $back = $json | ConvertFrom-Json
        # Windows PowerShell reads JSON integers as Int32, PowerShell 7 as Int64
        ($back.tcp[0].LocalPort -is [int] -or $back.tcp[0].LocalPort -is [long]) | Should -BeTrue
        # checked on the text: PowerShell 7's ConvertFrom-Json turns ISO dates back into DateTime
        $json | Should -Match '"CreationDate":"2024-05-06T07:58:19[+-]\d\d:\d\d"'
        $back.unreadable.GetType().IsArray | Should -BeTrue
    }
}

Describe 'Get-HostsecListenerRaw without elevation' {
    BeforeAll {
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $false }
        Mock -ModuleName $script:ModuleName Get-Command { [PSCustomObject]@{ Name = $Name } }
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            New-TestEndpoint -Address '0.0.0.0' -Port 135 -OwningProcess 1012
            New-TestEndpoint -Address '127.0.0.1' -Port 8080 -OwningProcess 5120
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint {
            Write-Error -Message 'No MSFT_NetUDPEndpoint objects found' -Category ObjectNotFound
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Process' } {
            New-TestProcess -ProcessId 1012 -Name 'svchost.exe'
            New-TestProcess -ProcessId 5120 -Name 'python.exe' -ExecutablePath 'C:\Users\alice\python.exe' -CommandLine 'python.exe -m http.server'
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Service' } {
            New-TestService -Name 'RpcSs' -ProcessId 1012
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod -ParameterFilter { $InputObject.ProcessId -eq 1012 } {
            [PSCustomObject]@{ ReturnValue = 2; Domain = $null; User = $null }
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod -ParameterFilter { $InputObject.ProcessId -eq 5120 } {
            [PSCustomObject]@{ ReturnValue = 0; Domain = 'WIN-7QH4K2'; User = 'alice' }
        }
        Mock -ModuleName $script:ModuleName Get-NetTCPSetting { throw 'Access denied' }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative {
            [PSCustomObject]@{ Lines = @('Start Port      : 49152', 'Number of Ports : 16384'); ExitCode = 0 }
        }

        $script:Raw = Get-HostsecListenerRaw
    }

    It 'names the fields it could not read' {
        $script:Raw.elevated | Should -BeFalse
        @($script:Raw.unreadable) | Should -Be @('CommandLine', 'ExecutablePath', 'Owner')
    }

    It 'still attributes the caller''s own process' {
        $own = $script:Raw.processes | Where-Object { $_.ProcessId -eq 5120 }
        $own.Owner | Should -Be 'WIN-7QH4K2\alice'
    }

    It 'treats "no UDP endpoints" as empty, not as an error' {
        $script:Raw.udp.Count | Should -Be 0
        @($script:Raw.errors | Where-Object { $_ -like 'Get-NetUDPEndpoint*' }).Count | Should -Be 0
    }

    It 'falls back to netsh for the dynamic range and records why' {
        @($script:Raw.netsh_dynamicport) | Should -Be @('Start Port      : 49152', 'Number of Ports : 16384')
        @($script:Raw.errors | Where-Object { $_ -like 'Get-NetTCPSetting*' }).Count | Should -Be 1
    }
}

Describe 'Get-HostsecListenerRaw with the netstat fallback' {
    BeforeAll {
        Mock -ModuleName $script:ModuleName Test-HostsecElevated { $true }
        Mock -ModuleName $script:ModuleName Get-Command { $null }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netstat.exe' } {
            $lines = @(
                ''
                'Active Connections'
                ''
                '  Proto  Local Address          Foreign Address        State           PID'
                '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       704'
                '  TCP    [fe80::1%11]:9100      [::]:0                 LISTENING       2500'
                '  TCP    10.0.2.15:5985         10.0.2.2:50412         ESTABLISHED     4'
                '  UDP    0.0.0.0:123            *:*                                    860'
            )
            [PSCustomObject]@{ Lines = $lines; ExitCode = 0 }
        }
        Mock -ModuleName $script:ModuleName Invoke-HostsecNative -ParameterFilter { $FilePath -eq 'netsh.exe' } {
            [PSCustomObject]@{ Lines = @('Start Port      : 49152', 'Number of Ports : 16384'); ExitCode = 0 }
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Process' } {
            New-TestProcess -ProcessId 4 -Name 'System'
            New-TestProcess -ProcessId 704 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k RPCSS'
            New-TestProcess -ProcessId 860 -Name 'svchost.exe' -ExecutablePath 'C:\Windows\system32\svchost.exe' -CommandLine 'svchost.exe -k LocalService'
            New-TestProcess -ProcessId 2500 -Name 'java.exe' -ExecutablePath 'C:\Java\bin\java.exe' -CommandLine 'java.exe -jar app.jar'
        }
        Mock -ModuleName $script:ModuleName Get-CimInstance -ParameterFilter { $ClassName -eq 'Win32_Service' } {
            New-TestService -Name 'RpcSs' -ProcessId 704
        }
        Mock -ModuleName $script:ModuleName Invoke-CimMethod {
            [PSCustomObject]@{ ReturnValue = 0; Domain = 'NT AUTHORITY'; User = 'SYSTEM' }
        }
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection { throw 'must not be called' }

        $script:Raw = Get-HostsecListenerRaw
    }

    It 'returns the raw netstat lines for Python to parse' {
        $script:Raw.collector | Should -Be 'netstat'
        $script:Raw.netstat.Count | Should -Be 8
        $script:Raw.tcp.Count | Should -Be 0
        $script:Raw.udp.Count | Should -Be 0
    }

    It 'looks up the processes named in the PID column' {
        @($script:Raw.processes | ForEach-Object { $_.ProcessId }) | Sort-Object | Should -Be @(4, 704, 860, 2500)
        Should -Invoke Get-NetTCPConnection -ModuleName $script:ModuleName -Times 0 -Exactly
    }

    It 'keeps the netsh lines for the dynamic range' {
        $script:Raw.dynamic_port_range | Should -BeNullOrEmpty
        @($script:Raw.netsh_dynamicport).Count | Should -Be 2
    }
}

Describe 'Get-HostsecSocket error handling' {
    It 'records a CIM failure instead of failing silently' {
        Mock -ModuleName $script:ModuleName Get-NetTCPConnection {
            Write-Error -Message 'The WS-Management service cannot process the request' -Category InvalidOperation
        }
        Mock -ModuleName $script:ModuleName Get-NetUDPEndpoint { @() }
        $raw = New-HostsecRawResult -Collector 'nettcpip' -Elevated $true

        Get-HostsecSocket -Raw $raw

        @($raw.errors) | Should -HaveCount 1
        $raw.errors[0] | Should -BeLike 'Get-NetTCPConnection: *WS-Management*'
    }
}
