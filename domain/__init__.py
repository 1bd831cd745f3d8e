"""kefu's core: messages, replies, rules and the use cases, free of frameworks and I/O."""
