"""Channel-layer group names. Streams address people, not rooms: one visitor (all their
browser tabs), every visitor, one agent, the queue every agent watches, and the supervisors.

Conversation events go only to who may see them (see for_agents), so an agent's socket
is not handed, and made to skip, every other agent's traffic.
"""


def visitor(session_id):
    return f"visitor.{session_id}"


def visitors():
    """Every open widget: whether live chat is on (availability)."""
    return "visitors"


def agents():
    """Every connected agent: presence changes, and visitors typing."""
    return "agents"


def agent(agent_id):
    """One agent (all their tabs): the conversations assigned to them."""
    return f"agent.{agent_id}"


def queue():
    """Every agent: unassigned conversations, which any agent may take."""
    return "agents.queue"


def supervisors():
    """Supervisors (staff): every conversation."""
    return "agents.supervisors"


def for_agents(agent_ids):
    """The agent-side groups for a conversation held by `agent_ids` (None: unassigned;
    on a transfer, the new and the previous agent)."""
    names = [supervisors()]
    for agent_id in dict.fromkeys(agent_ids):
        names.append(queue() if agent_id is None else agent(agent_id))
    return names
