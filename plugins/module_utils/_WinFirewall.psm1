# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside hostsec.ports.
#
# The Windows Firewall side of hostsec.ports.win_port_block and
# hostsec.ports.win_port_rollback. The collection owns the inbound block rules
# of one rule group (default "hostsec.ports") and nothing else. Whether those
# rules take effect is judged on the controller
# (plugins/plugin_utils/_remediation/windows.py firewall_effectiveness) from
# the raw state read here.

Function Get-HostsecRuleName {
    <#
    .SYNOPSIS
    The unique rule Name (not the display name) for one blocked port and protocol.
    #>
    [OutputType([string])]
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [Parameter(Mandatory = $true)]
        [int]
        $Port,

        [Parameter(Mandatory = $true)]
        [string]
        $Protocol
    )

    "$Group-block-$Port-$($Protocol.ToLowerInvariant())"
}

Function Get-HostsecFirewallState {
    <#
    .SYNOPSIS
    The raw firewall state for firewall_effectiveness: ActiveStore profiles, active network categories, group rules.
    .DESCRIPTION
    Enabled and AllowLocalFirewallRules are GpoBoolean values (True, False,
    NotConfigured) read from the ActiveStore, i.e. after Group Policy; they go
    back as strings. A read that fails goes into errors, which the controller
    treats as "not effective" (fail closed).
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [AllowNull()]
        [AllowEmptyCollection()]
        [string[]]
        $ExpectedRule
    )

    $state = [Ordered]@{
        profiles = [Collections.Generic.List[Object]]@()
        active_profiles = [Collections.Generic.List[string]]@()
        expected_rules = $null
        active_rules = [Collections.Generic.List[string]]@()
        errors = [Collections.Generic.List[string]]@()
    }
    if ($null -ne $ExpectedRule) {
        $state.expected_rules = [string[]]@($ExpectedRule)
    }
    try {
        foreach ($fwProfile in @(Get-NetFirewallProfile -PolicyStore ActiveStore -ErrorAction Stop)) {
            $state.profiles.Add([Ordered]@{
                    Name = [string]$fwProfile.Name
                    Enabled = [string]$fwProfile.Enabled
                    AllowLocalFirewallRules = [string]$fwProfile.AllowLocalFirewallRules
                })
        }
    }
    catch {
        $state.errors.Add("Get-NetFirewallProfile -PolicyStore ActiveStore: $($_.Exception.Message)")
    }
    try {
        foreach ($connection in @(Get-NetConnectionProfile -ErrorAction Stop)) {
            $state.active_profiles.Add([string]$connection.NetworkCategory)
        }
    }
    catch {
        # No connected network is not an error: every profile is then considered.
        if ($_.CategoryInfo.Category -ne 'ObjectNotFound') {
            $state.errors.Add("Get-NetConnectionProfile: $($_.Exception.Message)")
        }
    }
    try {
        foreach ($rule in @(Get-NetFirewallRule -PolicyStore ActiveStore -Group $Group -ErrorAction SilentlyContinue)) {
            if ([string]$rule.Enabled -eq 'True') {
                $state.active_rules.Add([string]$rule.Name)
            }
        }
    }
    catch {
        $state.errors.Add("Get-NetFirewallRule -PolicyStore ActiveStore: $($_.Exception.Message)")
    }
    $state
}

Function Read-HostsecRuleFilter {
    <#
    .SYNOPSIS
    Protocol, local port and addresses of one rule (its port and address filters).
    #>
    param (
        [Parameter(Mandatory = $true)]
        $Rule
    )

    $ports = $Rule | Get-NetFirewallPortFilter -ErrorAction Stop
    $addresses = $Rule | Get-NetFirewallAddressFilter -ErrorAction Stop
    [PSCustomObject]@{
        Protocol = [string]$ports.Protocol
        LocalPort = [string[]]@($ports.LocalPort)
        RemoteAddress = [string[]]@($addresses.RemoteAddress)
        LocalAddress = [string[]]@($addresses.LocalAddress)
    }
}

Function Get-HostsecOwnedRule {
    <#
    .SYNOPSIS
    Name -> description of every rule of the group in the persistent (local) store.
    #>
    [OutputType([Collections.IDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group
    )

    $owned = [Ordered]@{}
    foreach ($rule in @(Get-NetFirewallRule -PolicyStore PersistentStore -Group $Group -ErrorAction SilentlyContinue)) {
        $filter = Read-HostsecRuleFilter -Rule $rule
        $owned[[string]$rule.Name] = [Ordered]@{
            name = [string]$rule.Name
            display_name = [string]$rule.DisplayName
            direction = [string]$rule.Direction
            action = [string]$rule.Action
            enabled = [string]$rule.Enabled
            profile = [string]$rule.Profile
            protocol = $filter.Protocol
            local_port = $filter.LocalPort -join ','
            remote_address = $filter.RemoteAddress -join ','
            local_address = $filter.LocalAddress -join ','
        }
    }
    $owned
}

Function Get-HostsecWantedRule {
    <#
    .SYNOPSIS
    The description of the rule that blocks one port and protocol, as Get-HostsecOwnedRule reads one back.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [Parameter(Mandatory = $true)]
        [int]
        $Port,

        [Parameter(Mandatory = $true)]
        [string]
        $Protocol
    )

    $proto = $Protocol.ToUpperInvariant()
    [Ordered]@{
        name = Get-HostsecRuleName -Group $Group -Port $Port -Protocol $Protocol
        display_name = "$Group block $Port/$($Protocol.ToLowerInvariant())"
        direction = 'Inbound'
        action = 'Block'
        enabled = 'True'
        profile = 'Any'
        protocol = $proto
        local_port = [string]$Port
        remote_address = 'Any'
        local_address = 'Any'
    }
}

Function Test-HostsecRuleEqual {
    <#
    .SYNOPSIS
    True when an owned rule already is the wanted rule (every field compared).
    #>
    [OutputType([bool])]
    param (
        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Have,

        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Want
    )

    foreach ($key in $Want.Keys) {
        if ([string]$Have[$key] -ne [string]$Want[$key]) {
            return $false
        }
    }
    $true
}

Function Invoke-HostsecFirewallConverge {
    <#
    .SYNOPSIS
    Converges the group to exactly the wanted block rules in one run; returns what changed.
    .DESCRIPTION
    One read of the group, then only the differences: a missing rule is
    created, a rule edited by hand is recreated, a rule no longer wanted is
    removed by its unique Name. Rules of other groups are never read or touched.
    #>
    param (
        [Parameter(Mandatory = $true)]
        [string]
        $Group,

        [AllowEmptyCollection()]
        [object[]]
        $Block = @(),

        [bool]
        $CheckMode
    )

    $owned = Get-HostsecOwnedRule -Group $Group
    $wanted = [Ordered]@{}
    foreach ($item in $Block) {
        $rule = Get-HostsecWantedRule -Group $Group -Port ([int]$item.port) -Protocol ([string]$item.protocol)
        $wanted[$rule.name] = $rule
    }
    $added = [Collections.Generic.List[string]]@()
    $removed = [Collections.Generic.List[string]]@()
    foreach ($name in @($owned.Keys)) {
        $keep = $wanted.Contains($name) -and (Test-HostsecRuleEqual -Have $owned[$name] -Want $wanted[$name])
        if (-not $keep) {
            $removed.Add($name)
            if (-not $CheckMode) {
                Remove-NetFirewallRule -Name $name -PolicyStore PersistentStore -ErrorAction Stop
            }
        }
    }
    foreach ($name in @($wanted.Keys)) {
        if ($owned.Contains($name) -and $name -notin $removed) {
            continue
        }
        $added.Add($name)
        if (-not $CheckMode) {
            $rule = $wanted[$name]
            $newRule = @{
                Name = $rule.name
                DisplayName = $rule.display_name
                Group = $Group
                Description = 'Managed by hostsec.ports.port_policy: inbound traffic to this port is blocked by policy.'
                Direction = 'Inbound'
                Action = 'Block'
                Enabled = 'True'
                Profile = 'Any'
                Protocol = $rule.protocol
                LocalPort = $rule.local_port
                PolicyStore = 'PersistentStore'
                ErrorAction = 'Stop'
            }
            $null = New-NetFirewallRule @newRule
        }
    }
    [PSCustomObject]@{
        Before = [string[]]@($owned.Keys | Sort-Object)
        After = [string[]]@($wanted.Keys | Sort-Object)
        Added = [string[]]$added.ToArray()
        Removed = [string[]]@($removed | Where-Object { $_ -notin $added })
        Replaced = [string[]]@($removed | Where-Object { $_ -in $added })
        Changed = ($added.Count + $removed.Count) -gt 0
    }
}

$exportMembers = @{
    Function = @(
        'Get-HostsecFirewallState'
        'Get-HostsecOwnedRule'
        'Get-HostsecRuleName'
        'Get-HostsecWantedRule'
        'Invoke-HostsecFirewallConverge'
        'Read-HostsecRuleFilter'
        'Test-HostsecRuleEqual'
    )
}
Export-ModuleMember @exportMembers
