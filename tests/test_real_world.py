"""Submissions written in the styles of other courses' public code (CS231n, CMU 11-785
mytorch, EECS 498-007, d2l, "Deep Learning from Scratch", the array-API spec, PyTorch's
tutorials), kept in tests/fixtures/real_world/<assignment>/<name>.py, each opening with a
one-line note on the style it imitates. None is copied from anywhere: they are this
course's functions written the way that code is written.

Every correct one keeps full marks; every wrong one loses points and is told the known
mistakes it makes."""
import shutil
from pathlib import Path

import pytest

from graders.grading import engine

FIXTURES = Path(__file__).parent / "fixtures" / "real_world"

# fixture -> the catalogued mistakes it makes (empty: a correct submission, full marks)
EXPECTED = {
    "a1_foundations/array_api_broadcast_error.py": set(),
    "a1_foundations/numpy_broadcast_and_torch_init.py": {"broadcast_error_without_axis",
                                                         "kaiming_fan_from_torch_layout"},
    "a2_numpy_mlp/cs231n_affine_layers.py": set(),
    "a2_numpy_mlp/mytorch_layer_classes.py": set(),
    "a2_numpy_mlp/cs231n_momentum.py": {"momentum_cs231n"},
    "a2_numpy_mlp/d2l_squared_loss.py": {"mse_half_squared"},
    "a2_numpy_mlp/dlfs_layer_objects.py": {"relu_backward_in_place", "dropout_not_inverted",
                                           "dropout_no_scaling", "dropout_ignores_rng"},
    "a2_numpy_mlp/keep_probability_dropout.py": {"dropout_p_as_keep", "dropout_no_scaling"},
    "a2_numpy_mlp/mytorch_batch_mean_grads.py": {"linear_backward_averaged"},
    "a3_torch_layers/eecs498_static_layers.py": set(),
    "a3_torch_layers/cs231n_softmax_and_batchnorm.py": {"softmax_global_max_shift", "log_softmax_as_log_of_softmax",
                                                        "batchnorm_cs231n_running_stats"},
    "a4_conv/im2col_as_strided.py": set(),
    "a4_conv/naive_loops_pool_every_element.py": {"maxpool_backward_to_every_element"},
    "a5_autograd/inplace_function_ops.py": set(),
    "a5_autograd/backward_returns_local_derivative.py": {"tanh_ignores_grad_out"},
}


def test_every_fixture_is_listed_and_says_what_it_imitates():
    present = {str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.py")}
    assert present == set(EXPECTED)
    for name in present:
        first = (FIXTURES / name).read_text().splitlines()[0]
        assert first.startswith("# Style: ") and len(first) > 30, name
    assert sum(1 for mistakes in EXPECTED.values() if not mistakes) >= 5
    assert sum(1 for mistakes in EXPECTED.values() if mistakes) >= 5


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_real_world_submission(fixture, load, tmp_path):
    assignment = load(fixture.split("/")[0])
    folder = tmp_path / "student"
    folder.mkdir()
    shutil.copy(FIXTURES / fixture, folder / f"{assignment.module}.py")
    result = engine.grade(assignment, folder, "real-world")
    assert result.status == "graded", result.message
    failed = [f"{t.name}[{t.device}]: {t.message}" for t in result.tests if t.status == "failed"]
    diagnosed = {d.id for t in result.tests for d in t.diagnoses}
    assert not result.flagged, [e.describe() for e in result.evidence]  # honest code, in any style
    if not EXPECTED[fixture]:
        assert result.score == result.max_score and not failed, failed
        assert not diagnosed
    else:
        assert result.score < result.max_score
        assert EXPECTED[fixture] <= diagnosed, (diagnosed, failed)
