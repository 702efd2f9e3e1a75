#!powershell

# Copyright (c) hostsec.ports contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ..module_utils._WinRollback

# Thin on purpose: the rollback itself is in _WinRollback.psm1.

$spec = @{
    options = @{
        state = @{ type = 'str'; required = $true; choices = @('armed', 'confirmed') }
        group = @{ type = 'str'; default = 'hostsec.ports' }
        services = @{ type = 'list'; elements = 'str'; default = @() }
        timeout = @{ type = 'int'; default = 120 }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

if ($module.Params.timeout -lt 30) {
    $module.FailJson("timeout: $($module.Params.timeout) s is too short to reconnect and confirm (at least 30); nothing was changed")
}

# Checked outside the try below, so FailJson is never caught as an error of its own.
$scheduler = Get-Service -Name Schedule -ErrorAction SilentlyContinue
if ($module.Params.state -eq 'armed' -and ($null -eq $scheduler -or $scheduler.Status -ne 'Running')) {
    $module.FailJson('the Task Scheduler service (Schedule) is not running, so no rollback can be armed; nothing was changed')
}

try {
    if ($module.Params.state -eq 'armed') {
        $module.Result.changed = $true
        if (-not $module.CheckMode) {
            $armed = Register-HostsecRollback -Group $module.Params.group -Service $module.Params.services -Timeout $module.Params.timeout
            $module.Result.kept_snapshot = $armed.KeptSnapshot
            $module.Result.fires_at = $armed.FiresAt
        }
    }
    else {
        $confirmed = Confirm-HostsecRollback -CheckMode $module.CheckMode
        $module.Result.changed = $confirmed.WasPending
        $module.Result.fired = $confirmed.Fired
        $module.Result.problems = $confirmed.Problems
    }
}
catch {
    $module.FailJson("Failed to $(if ($module.Params.state -eq 'armed') { 'arm' } else { 'confirm' }) the rollback: $($_.Exception.Message)", $_)
}

$module.ExitJson()
