"""Public tests of the output_size task; run them with `pytest` from your repository's root."""
import pytest

from conv import conv_output_size


@pytest.mark.parametrize("n, f, stride, padding, expected", [
    (224, 7, 1, 2, 222),  # Conv2d(3, 32, kernel_size=7, padding=2) on a 224 x 224 image
    (222, 2, 2, 0, 111),  # then MaxPool2d(2, 2)
    (111, 2, 2, 0, 55),   # and a second MaxPool2d(2, 2): (111 - 2) // 2 + 1 = 55
    (224, 3, 1, 2, 226),  # Conv2d(3, 64, kernel_size=3, padding=2) makes the image larger
    (224, 3, 1, 1, 224),  # padding 1 keeps the size of a 3 x 3 convolution ("same")
    (4, 2, 1, 0, 3),      # the handout's 4 x 4 example
    (4, 2, 2, 0, 2),
    (4, 2, 1, 1, 5),
])
def test_course_examples(n, f, stride, padding, expected):
    assert conv_output_size(n, f, stride, padding) == expected


def test_windows_that_stick_out_are_dropped():
    # Padded length 6, windows of 3 every 2 steps start at 0 and 2; one at 4 would need a 7th element.
    size = conv_output_size(6, 3, 2, 0)
    assert isinstance(size, int)
    assert size == 2
