"""Hidden tests of the output_size task: ``conv_output_size``."""
from graders.grading.hidden import hidden_test

# (n, f, stride, padding): the course's layers first, then uneven strides where the
# last window would stick out and is dropped (floor, not ceil).
COURSE = [
    (224, 7, 1, 2),   # Conv2d(3, 32, kernel_size=7, padding=2) on 224 x 224: 222
    (222, 2, 2, 0),   # then MaxPool2d(2, 2): 111
    (111, 2, 2, 0),   # and a second MaxPool2d(2, 2): 55
    (222, 4, 4, 0),   # a single MaxPool2d(4, 4) instead: 55 as well
    (224, 3, 1, 2),   # Conv2d(3, 64, kernel_size=3, padding=2): 226
    (224, 3, 1, 1),   # VGG's 3 x 3 "same" convolution: 224
    (32, 5, 1, 0),    # LeNet's first layer: 28
    (227, 11, 4, 0),  # AlexNet's first layer: 55
    (5, 5, 1, 0),     # a filter as large as its input: 1
    (7, 1, 1, 0),     # a 1 x 1 convolution keeps the size: 7
]
UNEVEN = [
    (6, 3, 2, 0),     # 2: the window at offset 4 would need a 7th element
    (7, 3, 2, 1),     # 4
    (8, 3, 3, 0),     # 2
    (10, 4, 3, 2),    # 4
    (9, 2, 2, 0),     # 4
    (5, 2, 3, 1),     # 2
    (13, 5, 4, 3),    # 4
]


def _sizes(impl, cases):
    return {f"n={n}, f={f}, stride={s}, padding={p}": impl.conv_output_size(n, f, s, p)
            for n, f, s, p in cases}


@hidden_test(task="output_size")
def output_size_course_layers(impl):
    """Output sizes of the course's layers (224 -> 222 -> 111 -> 55, VGG, LeNet, AlexNet)."""
    return _sizes(impl, COURSE)


@hidden_test(task="output_size")
def output_size_uneven_strides(impl):
    """Output sizes where the stride does not divide the padded length: the last window is dropped."""
    return _sizes(impl, UNEVEN)
