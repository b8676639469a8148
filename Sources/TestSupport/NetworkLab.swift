// Tests reach the network lab's helpers (Shell, NetworkNamespace) through TestSupport.
@_exported import NetworkLab
