#!powershell

# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._WinFirewall

# Thin on purpose: the converge is in _WinFirewall.psm1; whether the rules take
# effect is judged on the controller (hostsec.ports.win_firewall_effectiveness).

$spec = @{
    options = @{
        block = @{
            type = 'list'
            elements = 'dict'
            default = @()
            options = @{
                port = @{ type = 'int'; required = $true }
                protocol = @{ type = 'str'; required = $true; choices = @('tcp', 'udp') }
                # Carried by plan items for the reports; not used here.
                finding_ids = @{ type = 'list'; elements = 'str'; default = @() }
            }
        }
        group = @{ type = 'str'; default = 'hostsec.ports' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

foreach ($item in $module.Params.block) {
    if ($item.port -lt 1 -or $item.port -gt 65535) {
        $module.FailJson("block: port $($item.port) ($($item.protocol)) is outside 1-65535; nothing was changed")
    }
}

try {
    $result = Invoke-HostsecFirewallConverge -Group $module.Params.group -Block $module.Params.block -CheckMode $module.CheckMode
    # In check mode nothing was written, so there is nothing to verify yet.
    $expected = if ($module.CheckMode) { $null } else { $result.After }
    $module.Result.firewall = Get-HostsecFirewallState -Group $module.Params.group -ExpectedRule $expected
}
catch {
    $module.FailJson("Failed to converge the firewall rules of group $($module.Params.group): $($_.Exception.Message)", $_)
}

$module.Result.changed = $result.Changed
$module.Result.added = $result.Added
$module.Result.removed = $result.Removed
$module.Result.replaced = $result.Replaced
$module.Result.rules = $result.After
$module.Diff.before = @{ rules = $result.Before }
$module.Diff.after = @{ rules = $result.After }
$module.ExitJson()
