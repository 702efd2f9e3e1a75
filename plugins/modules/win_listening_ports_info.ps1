#!powershell

# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._WinListeners

# Thin on purpose: the host only reads raw records (_WinListeners.psm1); the
# controller normalises them (module_utils/_listeners/windows.py), see docs/windows.md.

$spec = @{
    options = @{
        collector = @{
            type = 'str'
            default = 'auto'
            choices = @('auto', 'nettcpip', 'netstat')
        }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

try {
    $module.Result.raw = Get-HostsecListenerRaw -Collector $module.Params.collector
}
catch {
    $module.FailJson("Failed to read the listening sockets: $($_.Exception.Message)", $_)
}

# Fail closed: a host whose socket tables could not be read must never pass
# an audit with no listeners. raw stays in the result for the reason.
if ($module.Result.raw.socket_errors.Count -gt 0) {
    $module.FailJson("Failed to read the listening sockets (collector $($module.Result.raw.collector)): $($module.Result.raw.socket_errors -join '; ')")
}

$module.Result.changed = $false
$module.ExitJson()
