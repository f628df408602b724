"""Graph nodes, one role per module, and the routers between them."""

from chatbench.nodes.assistant import make_assistant_node
from chatbench.nodes.judge import make_judge_node
from chatbench.nodes.routing import make_route_after_assistant, route_after_user, untraced
from chatbench.nodes.user import (
    make_force_answer_node,
    make_user_cot_node,
    make_user_feedback_node,
    make_user_node,
)

__all__ = [
    "make_judge_node",
    "make_assistant_node",
    "make_force_answer_node",
    "make_route_after_assistant",
    "make_user_cot_node",
    "make_user_feedback_node",
    "make_user_node",
    "route_after_user",
    "untraced",
]
