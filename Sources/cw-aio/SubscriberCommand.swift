import ArgumentParser
struct SubscriberCommand: AsyncParsableCommand {}
