"""Every command in the documentation names a tool, config and options that exist: each shell
block of README.md, docs/ and the config READMEs is parsed, each tool it runs must be there, and
each ``--option`` it passes to a Python tool must be one that tool's ``--help`` lists."""
import glob
import os.path as osp
import re
import shlex
import subprocess
import sys
from functools import lru_cache

import pytest

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
PAGES = sorted(
    [osp.join(ROOT, 'README.md'), osp.join(ROOT, 'CHANGELOG.md')] +
    glob.glob(osp.join(ROOT, 'docs', '**', '*.md'), recursive=True) +
    glob.glob(osp.join(ROOT, 'configs', '**', 'README.md'), recursive=True))


def commands(page):
    """(line, [tokens]) of every command in the page's bash blocks, continuations joined."""
    text = open(page).read()
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        joined = re.sub(r'\\\n\s*', ' ', block)
        for line in joined.splitlines():
            line = line.split(' #', 1)[0].strip()
            if line and not line.startswith('#'):
                yield line, shlex.split(line.replace('[', ' ').replace(']', ' '))


@lru_cache(maxsize=None)
def help_text(tool):
    run = subprocess.run([sys.executable, osp.join(ROOT, tool), '--help'],
                         cwd=ROOT,
                         capture_output=True,
                         text=True,
                         timeout=300)
    assert run.returncode == 0, (tool, run.stderr[-2000:])
    return run.stdout


@pytest.mark.parametrize('page', PAGES, ids=lambda p: osp.relpath(p, ROOT))
def test_documented_commands_name_tools_configs_and_options_that_exist(page):
    for line, tokens in commands(page):
        for i, token in enumerate(tokens):
            if re.fullmatch(r'tools/[\w/]+\.(py|sh)', token):
                assert osp.isfile(osp.join(ROOT, token)), (page, line)
                if token.endswith('.py'):
                    options = [t.split('=')[0] for t in tokens[i + 1:] if t.startswith('--')]
                    text = help_text(token)
                    missing = [o for o in options if o not in text]
                    assert not missing, (page, line, missing)
            if re.fullmatch(r'configs/[\w./-]+\.py', token):
                assert osp.isfile(osp.join(ROOT, token)), (page, line)


def test_links_between_pages_resolve():
    for page in PAGES:
        for target in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', open(page).read()):
            assert osp.exists(osp.join(osp.dirname(page), target)), (page, target)
