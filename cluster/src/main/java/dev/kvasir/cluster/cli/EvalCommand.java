package dev.kvasir.cluster.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ./kvasir eval}: model quality measurements. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate a model (perplexity).",
        subcommands = {PerplexityCommand.class, CommandLine.HelpCommand.class})
final class EvalCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand (perplexity)");
    }
}
