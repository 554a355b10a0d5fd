"""Public tests of the distances task; run them with `pytest` from your repository's root."""
import math

import pytest
import torch

from foundations import euclidean, manhattan

X1 = [6.0, 1.0, 4.0, 5.0]
X2 = [2.0, 8.0, 3.0, -1.0]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_course_example():
    # differences 4, -7, 1, 6: |.| sums to 18, squares sum to 16 + 49 + 1 + 36 = 102
    x1, x2 = torch.tensor(X1, dtype=torch.float64), torch.tensor(X2, dtype=torch.float64)
    assert manhattan(x1, x2).item() == pytest.approx(18.0)
    assert euclidean(x1, x2).item() == pytest.approx(math.sqrt(102))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("distance", [manhattan, euclidean])
def test_result_is_0dim_with_the_inputs_dtype_and_device(distance, device):
    x1 = torch.tensor(X1, dtype=torch.float32, device=device)
    x2 = torch.tensor(X2, dtype=torch.float32, device=device)
    out = distance(x1, x2)
    assert isinstance(out, torch.Tensor) and out.shape == ()
    assert out.dtype == torch.float32 and out.device == x1.device


@pytest.mark.parametrize("distance", [manhattan, euclidean])
def test_distance_properties(distance):
    x1, x2 = torch.tensor(X1), torch.tensor(X2)
    assert distance(x1, x1.clone()).item() == 0.0
    assert distance(x1, x2).item() == pytest.approx(distance(x2, x1).item())
