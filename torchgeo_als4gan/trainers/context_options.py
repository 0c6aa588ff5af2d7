"""What both metadata-teacher tasks (segmentation and classification) check and say."""

__all__ = ('DEPLOY_CONTEXT_ONLY_WITH_METADATA', 'check_context_options')

#: Why a ``deploy: context`` model refuses to predict from images alone.
DEPLOY_CONTEXT_ONLY_WITH_METADATA = (
    'deploy: context is the metadata-as-input baseline: it predicts only with batch'
    ' metadata (validation and test); train deploy: student for a model that'
    ' predicts from images alone'
)


def check_context_options(
    deploy: str, lambda_distill: float, context_dim: int, context_hidden: int
) -> None:
    """Refuse out-of-range options of a metadata-teacher task, naming them.

    Args:
        deploy: ``student`` or ``context``.
        lambda_distill: distillation weight (>= 0).
        context_dim: context embedding size (>= 1).
        context_hidden: hidden size of the context encoder (>= 1).

    Raises:
        ValueError: If one is out of range.
    """
    if deploy not in ('student', 'context'):
        msg = f"deploy must be 'student' or 'context', got {deploy!r}"
        raise ValueError(msg)
    if lambda_distill < 0:
        msg = f'lambda_distill must not be negative, got {lambda_distill!r}'
        raise ValueError(msg)
    if context_dim < 1 or context_hidden < 1:
        msg = (
            'context_dim and context_hidden must be positive, got'
            f' {context_dim!r}, {context_hidden!r}'
        )
        raise ValueError(msg)
