"""Pretrained weights by name: TorchGeo weight enums and timm names, from local caches.

Every task's ``weights`` goes through :func:`resolve_weights`, which turns a
name into a local file (then loaded like any local weights file, with a
report of the keys that matched):

- a TorchGeo weight enum, as an object or its name
  (``ResNet18_Weights.SENTINEL2_RGB_MOCO``): the file TorchGeo would
  download, looked up in the torch hub cache (``$TORCH_HOME/hub/checkpoints``);
- a timm name with the ``timm:`` prefix (``timm:resnet18.a1_in1k``): the
  Hugging Face cache (``$HF_HOME/hub``) first, then the torch hub cache.

A file missing from the cache is downloaded into it unless ``ALS4GAN_OFFLINE``
or ``HF_HUB_OFFLINE`` is set; when that is impossible the error names the
exact file, where to get it and the folder to place it in.
"""

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torchgeo.models import get_weight
from torchvision.models._api import WeightsEnum

__all__ = ('TIMM_PREFIX', 'hub_checkpoint_folder', 'resolve_weights')

#: Prefix of timm model names in ``weights``.
TIMM_PREFIX = 'timm:'

#: Seconds before a download attempt gives up.
DOWNLOAD_TIMEOUT = 30.0


def hub_checkpoint_folder() -> Path:
    """The torch hub cache of weight files (``$TORCH_HOME/hub/checkpoints``).

    Returns:
        The folder (it may not exist yet).
    """
    return Path(torch.hub.get_dir()) / 'checkpoints'


def _offline() -> bool:
    return any(
        os.environ.get(name, '').lower() in ('1', 'true', 'yes', 'on')
        for name in ('ALS4GAN_OFFLINE', 'HF_HUB_OFFLINE')
    )


def _download(url: str, file: Path) -> str | None:
    """Download ``url`` to ``file`` atomically; the reason on failure, else None."""
    if _offline():
        return 'downloads are off (ALS4GAN_OFFLINE / HF_HUB_OFFLINE is set)'
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(dir=file.parent, suffix='.part')
    try:
        with (
            os.fdopen(fd, 'wb') as out,
            urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,
        ):
            shutil.copyfileobj(response, out)
        os.replace(part, file)
    except Exception as e:  # no network, HTTP errors, timeouts
        Path(part).unlink(missing_ok=True)
        return f'the download failed ({type(e).__name__}: {e})'
    return None


def _enum_file(weights: WeightsEnum, argument: str) -> str:
    url: str = weights.url
    name = os.path.basename(urlparse(url).path)
    file = hub_checkpoint_folder() / name
    if file.is_file():
        return os.fspath(file)
    reason = _download(url, file)
    if reason is None:
        return os.fspath(file)
    msg = (
        f'{argument} {weights}: {name!r} is not in the torch hub cache and {reason};'
        f' download {url} and place it as {os.fspath(file)!r} (the folder'
        f' {os.fspath(file.parent)!r}, set by TORCH_HOME), or give the file as'
        f' {argument}'
    )
    raise FileNotFoundError(msg)


def _timm_file(name: str, argument: str) -> str:
    from huggingface_hub import constants, try_to_load_from_cache
    from timm.models import get_pretrained_cfg

    model = name[len(TIMM_PREFIX) :]
    try:
        cfg = get_pretrained_cfg(model)
    except RuntimeError:  # a known architecture with an unknown tag
        cfg = None
    if cfg is None:
        msg = (
            f'{argument} {name!r}: timm has no pretrained weights named {model!r}'
            f' (timm.list_pretrained() lists them)'
        )
        raise ValueError(msg)
    places: list[str] = []
    hub_id: str | None = getattr(cfg, 'hf_hub_id', None)
    if hub_id:
        for filename in ('model.safetensors', 'pytorch_model.bin'):
            found = try_to_load_from_cache(hub_id, filename)
            if isinstance(found, str):
                return found
        folder = Path(constants.HF_HUB_CACHE) / f'models--{hub_id.replace("/", "--")}'
        places.append(
            f'https://huggingface.co/{hub_id} into the Hugging Face cache'
            f' {os.fspath(folder)!r} (huggingface-cli download {hub_id})'
        )
    url: str | None = getattr(cfg, 'url', None)
    if url:
        file = hub_checkpoint_folder() / os.path.basename(urlparse(url).path)
        if file.is_file():
            return os.fspath(file)
        reason = _download(url, file)
        if reason is None:
            return os.fspath(file)
        places.append(f'{url} as {os.fspath(file)!r}')
    else:
        reason = 'it is not cached'
    msg = (
        f'{argument} {name!r}: the weights are not in a local cache and {reason};'
        f' place {" or ".join(places)}, or give the file as {argument}'
    )
    raise FileNotFoundError(msg)


def resolve_weights(weights: Any, argument: str = 'weights') -> Any:
    """Turn a weight name into a local file; anything else is returned as is.

    Args:
        weights: a TorchGeo ``WeightsEnum`` or its name, ``timm:<name>``, a local
            file, True, False or None.
        argument: the option that gave it, for messages.

    Returns:
        The local file of a named weight, else ``weights`` unchanged.

    Raises:
        FileNotFoundError: If a named weight is neither cached nor downloadable
            (the message names the file and the folder to place it in).
        ValueError: If the name is neither a TorchGeo weight nor a timm one.
    """
    if isinstance(weights, WeightsEnum):
        return _enum_file(weights, argument)
    if not isinstance(weights, str):
        return weights
    if weights.startswith(TIMM_PREFIX):
        return _timm_file(weights, argument)
    if os.path.exists(weights) or weights.endswith(
        ('.pt', '.pth', '.ckpt', '.safetensors')
    ):
        return weights
    try:
        enum = get_weight(weights)
    except (KeyError, ValueError, AttributeError) as e:
        msg = (
            f'{argument} {weights!r} is neither a file nor a TorchGeo weight name'
            f' (e.g. ResNet18_Weights.SENTINEL2_RGB_MOCO) nor a timm name'
            f' (timm:resnet18.a1_in1k): {e}'
        )
        raise ValueError(msg) from e
    return _enum_file(enum, argument)
