# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Pester 5 tests for _WinFirewall.psm1 (win_port_block) and _WinRollback.psm1
# (win_port_rollback), with the NetSecurity and ScheduledTasks cmdlets mocked.
# The real cmdlets run in the ansible-test target tests/integration/targets/win_port_block.

BeforeAll {
    $ErrorActionPreference = 'Stop'
    $root = Join-Path -Path $PSScriptRoot -ChildPath '../../plugins/module_utils'
    Import-Module -Name (Join-Path -Path $root -ChildPath '_WinFirewall.psm1') -Force
    Import-Module -Name (Join-Path -Path $root -ChildPath '_WinRollback.psm1') -Force

    Function New-TestRule {
        param (
            [string]
            $Name,

            [string]
            $Port,

            [string]
            $Protocol,

            [string]
            $Action = 'Block',

            [string]
            $Enabled = 'True'
        )

        [PSCustomObject]@{
            Name = $Name
            DisplayName = $Name
            Description = 'test'
            Direction = 'Inbound'
            Action = $Action
            Enabled = $Enabled
            Profile = 'Any'
            TestPort = $Port
            TestProtocol = $Protocol
        }
    }
}

AfterAll {
    Remove-Module -Name @('_WinFirewall', '_WinRollback') -Force -ErrorAction SilentlyContinue
}

Describe 'Invoke-HostsecFirewallConverge' {
    BeforeEach {
        Mock -ModuleName _WinFirewall Get-NetFirewallRule {
            New-TestRule -Name 'hostsec.ports-block-23-tcp' -Port '23' -Protocol 'TCP'
            New-TestRule -Name 'hostsec.ports-block-69-udp' -Port '69' -Protocol 'UDP' -Action 'Allow'
            New-TestRule -Name 'hostsec.ports-block-445-tcp' -Port '445' -Protocol 'TCP'
        }
        # The real filter cmdlets bind CimInstance rules from the pipeline; the one wrapper around them is mocked.
        Mock -ModuleName _WinFirewall Read-HostsecRuleFilter {
            [PSCustomObject]@{ Protocol = $Rule.TestProtocol; LocalPort = @($Rule.TestPort); RemoteAddress = @('Any'); LocalAddress = @('Any') }
        }
        Mock -ModuleName _WinFirewall New-NetFirewallRule { $null }
        Mock -ModuleName _WinFirewall Remove-NetFirewallRule { $null }
    }

    It 'reads the group once and changes only the differences' {
        $block = @(@{ port = 23; protocol = 'tcp' }, @{ port = 69; protocol = 'udp' }, @{ port = 3306; protocol = 'tcp' })
        $result = Invoke-HostsecFirewallConverge -Group 'hostsec.ports' -Block $block -CheckMode $false

        Should -Invoke Get-NetFirewallRule -ModuleName _WinFirewall -Times 1 -Exactly -ParameterFilter { $Group -eq 'hostsec.ports' }
        $result.Added | Should -Be @('hostsec.ports-block-69-udp', 'hostsec.ports-block-3306-tcp')
        $result.Removed | Should -Be @('hostsec.ports-block-445-tcp')
        # the 69/udp rule was edited by hand to Allow: recreated
        $result.Replaced | Should -Be @('hostsec.ports-block-69-udp')
        Should -Invoke Remove-NetFirewallRule -ModuleName _WinFirewall -Times 2 -Exactly
        Should -Invoke New-NetFirewallRule -ModuleName _WinFirewall -Times 2 -Exactly -ParameterFilter {
            $Group -eq 'hostsec.ports' -and $Action -eq 'Block' -and $Direction -eq 'Inbound' -and $Profile -eq 'Any'
        }
        $result.Changed | Should -BeTrue
    }

    It 'writes nothing in check mode' {
        $result = Invoke-HostsecFirewallConverge -Group 'hostsec.ports' -Block @(@{ port = 22; protocol = 'tcp' }) -CheckMode $true

        $result.Changed | Should -BeTrue
        Should -Invoke New-NetFirewallRule -ModuleName _WinFirewall -Times 0 -Exactly
        Should -Invoke Remove-NetFirewallRule -ModuleName _WinFirewall -Times 0 -Exactly
    }

    It 'is idempotent' {
        $block = @(@{ port = 23; protocol = 'tcp' })
        Mock -ModuleName _WinFirewall Get-NetFirewallRule { New-TestRule -Name 'hostsec.ports-block-23-tcp' -Port '23' -Protocol 'TCP' }
        $result = Invoke-HostsecFirewallConverge -Group 'hostsec.ports' -Block $block -CheckMode $false

        $result.Changed | Should -BeFalse
    }
}

Describe 'Get-HostsecFirewallState' {
    It 'reads the ActiveStore profiles, the connected categories and the group''s enabled rules' {
        Mock -ModuleName _WinFirewall Get-NetFirewallProfile {
            [PSCustomObject]@{ Name = 'Public'; Enabled = 'True'; AllowLocalFirewallRules = 'False' }
        }
        Mock -ModuleName _WinFirewall Get-NetConnectionProfile { [PSCustomObject]@{ NetworkCategory = 'Public' } }
        Mock -ModuleName _WinFirewall Get-NetFirewallRule {
            New-TestRule -Name 'hostsec.ports-block-23-tcp' -Port '23' -Protocol 'TCP'
            New-TestRule -Name 'hostsec.ports-block-69-udp' -Port '69' -Protocol 'UDP' -Enabled 'False'
        }
        $state = Get-HostsecFirewallState -Group 'hostsec.ports' -ExpectedRule @('hostsec.ports-block-23-tcp')

        Should -Invoke Get-NetFirewallProfile -ModuleName _WinFirewall -ParameterFilter { $PolicyStore -eq 'ActiveStore' }
        $state.profiles[0].AllowLocalFirewallRules | Should -Be 'False'
        @($state.active_profiles) | Should -Be @('Public')
        @($state.active_rules) | Should -Be @('hostsec.ports-block-23-tcp')
        @($state.expected_rules) | Should -Be @('hostsec.ports-block-23-tcp')
        $state.errors.Count | Should -Be 0
    }

    It 'records a failed read instead of passing' {
        Mock -ModuleName _WinFirewall Get-NetFirewallProfile { throw 'Access is denied' }
        Mock -ModuleName _WinFirewall Get-NetConnectionProfile { @() }
        Mock -ModuleName _WinFirewall Get-NetFirewallRule { @() }
        $state = Get-HostsecFirewallState -Group 'hostsec.ports' -ExpectedRule $null

        $state.expected_rules | Should -BeNullOrEmpty
        $state.errors[0] | Should -BeLike '*ActiveStore*Access is denied*'
    }
}

Describe 'The dead-man rollback' {
    BeforeAll {
        $script:Dir = Join-Path -Path $TestDrive -ChildPath 'rollback'
        $null = New-Item -Path $script:Dir -ItemType Directory
    }

    It 'writes a task script that parses and carries Invoke-HostsecRollback itself' {
        $text = Get-HostsecRollbackScript -Directory $script:Dir
        $errors = $null
        $null = [Management.Automation.Language.Parser]::ParseInput($text, [ref]$null, [ref]$errors)
        @($errors) | Should -HaveCount 0
        $text | Should -Match 'Function Invoke-HostsecRollback'
        $text | Should -Match ([regex]::Escape("-Directory '$($script:Dir)'"))
    }

    It 'restores the snapshot: removes the group''s rules, recreates the old ones, restores services, marks that it fired' {
        $rule = @{
            Name = 'hostsec.ports-block-23-tcp'
            DisplayName = 'hostsec.ports block 23/tcp'
            Description = 'd'
            Direction = 'Inbound'
            Action = 'Block'
            Enabled = 'True'
            Profile = 'Any'
            Protocol = 'TCP'
            LocalPort = @('23')
        }
        $service = @{
            Name = 'Spooler'
            StartMode = 'Auto'
            DelayedAutoStart = $false
            State = 'Running'
        }
        @{ group = 'hostsec.ports'; rules = @($rule); services = @($service) } | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath (Join-Path $script:Dir 'snapshot.json')
        Mock -ModuleName _WinRollback Get-NetFirewallRule { [PSCustomObject]@{ Name = 'hostsec.ports-block-3306-tcp' } }
        Mock -ModuleName _WinRollback Remove-NetFirewallRule { $null }
        Mock -ModuleName _WinRollback New-NetFirewallRule { $null }
        Mock -ModuleName _WinRollback Start-Service { $null }
        Mock -ModuleName _WinRollback sc.exe { $null }
        Mock -ModuleName _WinRollback Unregister-ScheduledTask { $null }

        Invoke-HostsecRollback -Directory $script:Dir

        Should -Invoke Remove-NetFirewallRule -ModuleName _WinRollback -Times 1 -Exactly -ParameterFilter { $Name -eq 'hostsec.ports-block-3306-tcp' }
        Should -Invoke New-NetFirewallRule -ModuleName _WinRollback -Times 1 -Exactly -ParameterFilter { $Name -eq 'hostsec.ports-block-23-tcp' -and $Group -eq 'hostsec.ports' }
        Should -Invoke Start-Service -ModuleName _WinRollback -Times 1 -Exactly -ParameterFilter { $Name -eq 'Spooler' }
        Should -Invoke Unregister-ScheduledTask -ModuleName _WinRollback -Times 1 -Exactly
        $fired = Get-Content -LiteralPath (Join-Path $script:Dir 'fired.json') -Raw | ConvertFrom-Json
        @($fired.problems) | Should -HaveCount 0
    }

    It 'reports on confirmation that the rollback had fired' {
        Mock -ModuleName _WinRollback Get-ScheduledTask { $null }
        $confirmed = Confirm-HostsecRollback -Directory $script:Dir -CheckMode $false

        $confirmed.Fired | Should -BeTrue
        $confirmed.WasPending | Should -BeFalse
    }

    It 'cancels a pending task and says it did not fire' {
        Remove-Item -LiteralPath (Join-Path $script:Dir 'fired.json')
        Mock -ModuleName _WinRollback Get-ScheduledTask { [PSCustomObject]@{ TaskName = 'rollback' } }
        Mock -ModuleName _WinRollback Unregister-ScheduledTask { $null }
        $confirmed = Confirm-HostsecRollback -Directory $script:Dir -CheckMode $false

        $confirmed.Fired | Should -BeFalse
        $confirmed.WasPending | Should -BeTrue
        Should -Invoke Unregister-ScheduledTask -ModuleName _WinRollback -Times 1 -Exactly
    }
}
