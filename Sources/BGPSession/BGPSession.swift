// BGPSession
