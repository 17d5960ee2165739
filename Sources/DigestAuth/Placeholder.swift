import Crypto
public enum DigestPlaceholder {}
