"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its venvs.

That download host is not reachable from our build machines, so `make test-sanity`
puts this file where ansible-test caches the script (~/.ansible/test/cache, beside
the venvs ansible-test keeps there). It takes get-pip.py's arguments: it installs
the pip bundled with CPython (ensurepip), lets that pip install what was asked for
from the package index the machine is configured with, and honours --no-setuptools
and --no-wheel.
"""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
# A subprocess, not ensurepip.bootstrap(): in-process it sets PIP_CONFIG_FILE to
# /dev/null for the rest of this process, hiding the machine's index and CA settings.
rc = subprocess.call([sys.executable, '-m', 'ensurepip'], stdout=subprocess.DEVNULL)
if rc == 0:
    rc = subprocess.call([sys.executable, '-m', 'pip', 'install', '-q'] + args)
if rc == 0 and '--no-setuptools' in sys.argv:
    # ensurepip brings setuptools along; get-pip.py would not have installed it.
    rc = subprocess.call([sys.executable, '-m', 'pip', 'uninstall', '-q', '-y', 'setuptools'])
sys.exit(rc)
