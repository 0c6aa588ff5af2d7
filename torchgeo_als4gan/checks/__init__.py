"""Checks every command and datamodule goes through, one module per class of fault.

- :mod:`.numbers`: counts, sizes and fractions given as arguments.
- :mod:`.devices`: ``--device`` / ``trainer.accelerator`` that the machine lacks.
- :mod:`.sizes`: patch, tile and window sizes against the data and memory.
- :mod:`.geo`: rasters and vectors missing what makes them geographic.
- :mod:`.pixels`: pixel values the model never saw, non-finite pixels and losses.
- :mod:`.checkpoints`: reading checkpoints and resuming with other settings.
- :mod:`.configs`: YAML files (line and column of a syntax error).
- :mod:`.masks`: mask values that are not the model's class indices.

Nothing here imports from the rest of the package (no circles).
"""

from .checkpoints import compare_resume_settings, read_checkpoint
from .configs import read_yaml
from .devices import check_accelerator, check_device
from .geo import check_georeferenced, read_vector
from .masks import check_class_indices
from .numbers import (
    check_class_names,
    check_fraction,
    check_non_negative,
    check_positive,
    check_seed,
)
from .pixels import (
    NonFiniteLossGuard,
    check_pixel_range,
    file_pixel_statistics,
    mask_non_finite,
)
from .sizes import available_memory, check_memory, check_window_size

__all__ = (
    'NonFiniteLossGuard',
    'available_memory',
    'check_accelerator',
    'check_class_indices',
    'check_class_names',
    'check_device',
    'check_fraction',
    'check_georeferenced',
    'check_memory',
    'check_non_negative',
    'check_pixel_range',
    'check_positive',
    'check_seed',
    'check_window_size',
    'compare_resume_settings',
    'file_pixel_statistics',
    'mask_non_finite',
    'read_checkpoint',
    'read_vector',
    'read_yaml',
)
