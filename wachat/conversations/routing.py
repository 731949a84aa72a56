"""Who gets a new conversation. Pure policy: no database access here."""


def pick_agent(candidates, open_counts):
    """The online, auto-assigning agent with spare capacity: least loaded, then longest idle.

    `candidates` are ChatAgent-like objects; `open_counts` maps agent id to the number of
    open conversations it holds. Returns None when nobody has room.
    """
    available = [
        agent
        for agent in candidates
        if agent.status == "online"
        and agent.auto_assign
        and open_counts.get(agent.id, 0) < agent.max_concurrent_chats
    ]
    if not available:
        return None

    def idle_key(agent):
        # Never active sorts as idlest.
        return agent.last_activity_at.timestamp() if agent.last_activity_at else float("-inf")

    return min(available, key=lambda agent: (open_counts.get(agent.id, 0), idle_key(agent)))
