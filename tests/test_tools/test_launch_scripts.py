"""The launch scripts run the interpreter of the environment tools/setup_env.sh made."""
import os
import stat
import subprocess

ROOT = __file__.rsplit('/tests/', 1)[0]


def fake_command(bin_dir, name):
    """A stand-in for srun / a python that prints how it was called."""
    path = bin_dir / name
    path.write_text('#!/bin/sh\necho "$0 $@"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def run_script(script, args, env):
    return subprocess.run(['bash', f'{ROOT}/tools/{script}', *args],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=60)


def test_slurm_and_dist_scripts_use_the_environment_interpreter(tmp_path):
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True)
    python = fake_command(venv / 'bin', 'python')
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake_command(bin_dir, 'srun')
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}', ISONET_VENV=str(venv))
    env.pop('PYTHON', None)
    for script, args in (('slurm_train.sh', ['p', 'job', 'cfg.py', 'wd']),
                         ('slurm_test.sh', ['p', 'job', 'cfg.py',
                                            'ckpt.pth']), ('dist_train.sh', ['cfg.py', '2']),
                         ('dist_test.sh', ['cfg.py', 'ckpt.pth', '2'])):
        run = run_script(script, args, env)
        assert run.returncode == 0, run.stderr
        assert str(python) in run.stdout, (script, run.stdout)
    explicit = fake_command(bin_dir, 'mypython')
    run = run_script('slurm_train.sh', ['p', 'job', 'cfg.py', 'wd'],
                     dict(env, PYTHON=str(explicit)))
    assert str(explicit) in run.stdout
