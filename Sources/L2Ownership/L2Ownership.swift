public enum L2Ownership {}
