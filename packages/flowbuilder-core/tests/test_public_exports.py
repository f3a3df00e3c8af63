"""What plugins import from ``flowbuilder`` itself: the errors they raise and catch."""

from __future__ import annotations

import flowbuilder


def test_param_expression_and_task_failure_errors_are_public_names_of_flowbuilder() -> None:
    from flowbuilder.expressions import ExpressionError
    from flowbuilder.interfaces.tasktype import TaskFailure
    from flowbuilder.params import ParamError

    for name, cls in (("ParamError", ParamError), ("ExpressionError", ExpressionError), ("TaskFailure", TaskFailure)):
        assert name in flowbuilder.__all__
        assert getattr(flowbuilder, name) is cls
        assert issubclass(cls, flowbuilder.FlowBuilderError)


def test_every_name_in_all_resolves() -> None:
    for name in flowbuilder.__all__:
        assert getattr(flowbuilder, name) is not None, name


def test_the_same_three_errors_are_importable_from_flowbuilder_errors_where_users_look() -> None:
    import flowbuilder.errors

    for name in ("ParamError", "ExpressionError", "TaskFailure"):
        assert name in flowbuilder.errors.__all__
        assert getattr(flowbuilder.errors, name) is getattr(flowbuilder, name)
    from flowbuilder.errors import ParamError, TaskFailure

    assert issubclass(ParamError, flowbuilder.errors.FlowBuilderError) and TaskFailure is flowbuilder.TaskFailure
