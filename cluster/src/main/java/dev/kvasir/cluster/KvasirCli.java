package dev.kvasir.cluster;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code ./kvasir} command line. */
@Command(name = "kvasir", mixinStandardHelpOptions = true, version = "kvasir 0.1.0",
        description = "Actor-based, distributed LLM inference on the JVM.",
        subcommands = {CommandLine.HelpCommand.class})
public final class KvasirCli implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new KvasirCli()).execute(args));
    }
}
