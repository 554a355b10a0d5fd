"""Hidden tests of the distances task: ``manhattan`` and ``euclidean``."""
import torch

from graders.grading.hidden import hidden_test

DTYPES = (torch.float64, torch.float32)
SEED_X1 = [6.0, 1.0, 4.0, 5.0]
SEED_X2 = [2.0, 8.0, 3.0, -1.0]


def _name(dtype):
    return str(dtype).removeprefix("torch.")


def _seed_example(distance, device):
    results = {}
    for dtype in DTYPES:
        x1 = torch.tensor(SEED_X1, dtype=dtype, device=device)
        x2 = torch.tensor(SEED_X2, dtype=dtype, device=device)
        results[_name(dtype)] = distance(x1, x2)
    return results


def _random_vectors(distance, rand, device):
    results = {}
    for dtype in DTYPES:
        x1 = rand.tensor(257, scale=3.0, dtype=dtype, device=device)
        x2 = rand.tensor(257, scale=3.0, dtype=dtype, device=device)
        results[_name(dtype)] = distance(x1, x2)
        results[f"{_name(dtype)}, a vector and its copy"] = distance(x1, x1.clone())
    return results


@hidden_test(task="distances")
def manhattan_seed_example(impl, device):
    """Manhattan distance of the course's vectors [6, 1, 4, 5] and [2, 8, 3, -1] (18)."""
    return _seed_example(impl.manhattan, device)


@hidden_test(task="distances")
def euclidean_seed_example(impl, device):
    """Euclidean distance of the course's vectors [6, 1, 4, 5] and [2, 8, 3, -1] (sqrt(102))."""
    return _seed_example(impl.euclidean, device)


@hidden_test(task="distances", weight=2.0)
def manhattan_random(impl, rand, device):
    """Manhattan distance of random 257-vectors, and of a vector and its copy (0)."""
    return _random_vectors(impl.manhattan, rand, device)


@hidden_test(task="distances", weight=2.0)
def euclidean_random(impl, rand, device):
    """Euclidean distance of random 257-vectors, and of a vector and its copy (0)."""
    return _random_vectors(impl.euclidean, rand, device)
