"""Image classifiers that read a context vector, and their image-only twins.

For the classification setting of spatiotemporal SSL (Bernhard et al., ECAI
2024): the *teacher* reads the image and its context (latitude, longitude, day
of year), the *student* reads the image only and is the model that is
deployed. Both wrap a timm classifier:

* Vision transformers (timm's ``VisionTransformer`` and relatives): the
  context embedding is one extra token appended to the patch tokens after the
  position embeddings (the paper); the student appends a learnable placeholder
  token instead. The extra token is dropped before the head's pooling, so it
  acts through attention only, and its output is what the distillation
  compares.
* CNNs (any other timm model): FiLM (:class:`~torchgeo_als4gan.models.ContextFiLM`)
  on the deepest feature map; the student's feature map passes a learnable
  1x1 projection (standing for the placeholder token) for the distillation.
"""

from typing import Any

import torch
from torch import Tensor, nn

from .context import ContextFiLM, build_context_encoder

__all__ = (
    'ContextReadingClassifier',
    'PlaceholderClassifier',
    'is_vision_transformer',
    'vit_tokens_with_extra',
)

_VIT_PARTS = ('patch_embed', '_pos_embed', 'patch_drop', 'norm_pre', 'blocks', 'norm')


def is_vision_transformer(network: nn.Module) -> bool:
    """Whether a timm model is a vision transformer whose tokens can be extended.

    Args:
        network: a timm model.

    Returns:
        True for timm's ``VisionTransformer`` layout.
    """
    return all(hasattr(network, part) for part in _VIT_PARTS)


def vit_tokens_with_extra(vit: Any, x: Tensor, token: Tensor) -> tuple[Tensor, Tensor]:
    """Run a timm ViT's feature layers with one extra token appended.

    Args:
        vit: a timm vision transformer.
        x: images ``[B, C, H, W]``.
        token: the extra token ``[B, D]`` (D: the ViT's width).

    Returns:
        The ViT's own output tokens ``[B, N, D]`` (what its head pools) and
        the extra token's output ``[B, D]``.
    """
    tokens = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(x))))
    tokens = torch.cat([tokens, token[:, None].to(tokens.dtype)], dim=1)
    tokens = vit.norm(vit.blocks(tokens))
    return tokens[:, :-1], tokens[:, -1]


def _width(network: Any) -> int:
    """Width of the extra token (ViT) or channels of the deepest features (CNN)."""
    return int(getattr(network, 'embed_dim', None) or network.num_features)


class ContextReadingClassifier(nn.Module):
    """The teacher: a timm classifier that also reads the context vector.

    Samples whose context is not valid are read without it: FiLM keeps their
    features (CNN), and the ViT gets a learnable ``missing`` token in place of
    their context token.
    """

    def __init__(
        self, network: nn.Module, encoder: str = 'mlp', dim: int = 384,
        hidden: int = 384,
    ) -> None:  # fmt: skip
        """Initialize a new ContextReadingClassifier.

        Args:
            network: the timm classifier (kept as ``network``).
            encoder: context encoder (``mlp``, ``fourier``, ``spherical_harmonics``).
            dim: size of the context embedding.
            hidden: hidden size of the encoder's MLP.
        """
        super().__init__()
        self.network: Any = network
        self.vit = is_vision_transformer(network)
        self.encoder = build_context_encoder(encoder, dim=dim, hidden=hidden)
        width = _width(network)
        if self.vit:
            self.to_token: nn.Module = (
                nn.Identity() if dim == width else nn.Linear(dim, width)
            )
            self.missing = nn.Parameter(torch.zeros(width))
            nn.init.trunc_normal_(self.missing, std=0.02)
        else:
            self.film = ContextFiLM(width, dim)

    def get_classifier(self) -> nn.Module:
        """The classifier layer of the wrapped network.

        Returns:
            The head's last layer.
        """
        head: nn.Module = self.network.get_classifier()
        return head

    def forward_split(
        self, x: Tensor, metadata: Tensor, valid: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Pooled embedding and the features the student's are regressed on.

        Args:
            x: images ``[B, C, H, W]``.
            metadata: context vectors ``[B, 4]``.
            valid: ``[B]`` booleans (None: all valid).

        Returns:
            The pre-logits embedding ``[B, E]`` and the conditioned features
            (ViT: the context token's output ``[B, D]``; CNN: the deepest
            feature map after FiLM).
        """
        valid_ = (
            torch.ones(len(x), dtype=torch.bool, device=x.device)
            if valid is None
            else valid.bool()
        )
        # an invalid context reads as zeros, then is replaced or skipped
        context = torch.where(valid_[:, None], metadata, torch.zeros_like(metadata))
        embedding = self.encoder(context.float())
        if self.vit:
            token = self.to_token(embedding)
            token = torch.where(valid_[:, None], token, self.missing.expand_as(token))
            tokens, extra = vit_tokens_with_extra(self.network, x, token)
            pooled: Tensor = self.network.forward_head(tokens, pre_logits=True)
            return pooled, extra
        features = self.film(self.network.forward_features(x), embedding, valid_)
        pooled = self.network.forward_head(features, pre_logits=True)
        return pooled, features

    def forward(
        self, x: Tensor, metadata: Tensor, valid: Tensor | None = None
    ) -> Tensor:
        """Logits of images with their context.

        Args:
            x: images ``[B, C, H, W]``.
            metadata: context vectors ``[B, 4]``.
            valid: ``[B]`` booleans.

        Returns:
            Logits ``[B, K]``.
        """
        logits: Tensor = self.get_classifier()(
            self.forward_split(x, metadata, valid)[0]
        )
        return logits


class PlaceholderClassifier(nn.Module):
    """The student: the same classifier reading the image only.

    It has the timm interface the active learner uses (``forward_features``,
    ``forward_head``, ``get_classifier``), so it scores pool items like any
    timm classifier, and its forward takes no metadata argument at all.
    """

    def __init__(self, network: nn.Module) -> None:
        """Initialize a new PlaceholderClassifier.

        Args:
            network: the timm classifier (kept as ``network``).
        """
        super().__init__()
        self.network: Any = network
        self.vit = is_vision_transformer(network)
        width = _width(network)
        if self.vit:
            self.placeholder = nn.Parameter(torch.zeros(width))
            nn.init.trunc_normal_(self.placeholder, std=0.02)
        else:
            self.projection = nn.Conv2d(width, width, kernel_size=1)

    def get_classifier(self) -> nn.Module:
        """The classifier layer of the wrapped network.

        Returns:
            The head's last layer.
        """
        head: nn.Module = self.network.get_classifier()
        return head

    def _tokens(self, x: Tensor) -> tuple[Tensor, Tensor]:
        token = self.placeholder.expand(len(x), -1)
        return vit_tokens_with_extra(self.network, x, token)

    def forward_features(self, x: Tensor) -> Tensor:
        """Features before the head's pooling.

        Args:
            x: images ``[B, C, H, W]``.

        Returns:
            ViT: output tokens without the placeholder; CNN: the deepest map.
        """
        if self.vit:
            return self._tokens(x)[0]
        features: Tensor = self.network.forward_features(x)
        return features

    def forward_head(self, features: Tensor, pre_logits: bool = False) -> Tensor:
        """The wrapped network's head.

        Args:
            features: output of :meth:`forward_features`.
            pre_logits: return the pooled embedding instead of logits.

        Returns:
            Logits or embeddings.
        """
        out: Tensor = self.network.forward_head(features, pre_logits=pre_logits)
        return out

    def forward_split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Pooled embedding and the features regressed on the teacher's.

        Args:
            x: images ``[B, C, H, W]``.

        Returns:
            The pre-logits embedding and the distillation features (ViT: the
            placeholder token's output; CNN: the projected deepest map).
        """
        if self.vit:
            tokens, extra = self._tokens(x)
            return self.forward_head(tokens, pre_logits=True), extra
        features = self.network.forward_features(x)
        return self.forward_head(features, pre_logits=True), self.projection(features)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of images.

        Args:
            x: images ``[B, C, H, W]``.

        Returns:
            Logits ``[B, K]``.
        """
        return self.forward_head(self.forward_features(x))
