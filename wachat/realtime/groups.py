"""Channel-layer group names. Streams address people, not rooms: one visitor (all their
browser tabs), and the agents."""


def visitor(session_id):
    return f"visitor.{session_id}"


def agents():
    """Every connected agent: inbox updates for all conversations."""
    return "agents"


def for_conversation(conversation):
    """Who hears about a change in `conversation`."""
    names = [agents()]
    if conversation.visitor_session_id:
        names.append(visitor(conversation.visitor_session_id))
    return names
