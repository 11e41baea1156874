"""What importing the theory and the plugin brings into a process (fresh interpreters)."""
import subprocess
import sys

HEAVY = ('torch', 'mmengine', 'mmcv', 'mmdet')


def _imported_after(statements: str) -> list:
    """The heavy packages in ``sys.modules`` after ``statements`` run in a fresh interpreter."""
    code = (f'import sys\n{statements}\n'
            f'print(" ".join(m for m in {HEAVY!r} if m in sys.modules))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def test_the_mean_field_maths_imports_without_torch_mmengine_or_mmdet():
    assert _imported_after('import isonet_theory.mean_field\nimport isonet_theory') == []


def test_the_theory_leaves_a_loaded_mmengine_as_it_was():
    code = ('from mmengine.runner.checkpoint import CheckpointLoader\n'
            'before = dict(CheckpointLoader._schemes)\n'
            'import isonet_theory.mean_field\n'
            'assert CheckpointLoader._schemes == before\n'
            'assert "isonet_det" not in sys.modules')
    assert 'mmdet' not in _imported_after(code)


def test_loading_the_plugin_does_not_import_mmdet():
    imported = _imported_after('import isonet_det')
    assert 'mmengine' in imported and 'mmdet' not in imported


def test_the_former_module_path_is_the_same_module():
    import isonet_det.analysis
    import isonet_det.analysis.mean_field as former
    import isonet_theory.mean_field as theory
    assert former is theory
    assert isonet_det.analysis.chi_1 is theory.chi_1
