package dev.kvasir.cluster.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/**
 * The {@code ./kvasir} command line. Errors the user can fix (bad flags, unreadable model, prompt
 * too long) end as one line on stderr and a non-zero exit code, never a stack trace.
 */
@Command(name = "kvasir", mixinStandardHelpOptions = true, version = "kvasir 0.1.0",
        description = "Actor-based, distributed LLM inference on the JVM.",
        subcommands = {GenerateCommand.class, TokenizeCommand.class, SynthCommand.class, ServeCommand.class, NodeCommand.class,
                BenchCommand.class, EvalCommand.class, CommandLine.HelpCommand.class})
public final class KvasirCli implements Runnable {
    /** Exit code for bad input: a file, a prompt or a value the command cannot use. */
    public static final int EXIT_BAD_INPUT = 1;
    /** Exit code for malformed command lines (picocli's convention). */
    public static final int EXIT_USAGE = 2;

    @Override
    public void run() {
        new CommandLine(this).usage(System.err);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new KvasirCli());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            err.println("kvasir " + cmd.getCommandName() + ": " + CliErrors.describe(ex));
            err.flush();
            if (CliErrors.isBug(ex)) {
                org.slf4j.LoggerFactory.getLogger(KvasirCli.class).debug("unexpected failure", ex);
            }
            return EXIT_BAD_INPUT;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("kvasir " + ex.getCommandLine().getCommandName() + ": " + ex.getMessage()
                    + " (see: ./kvasir " + ex.getCommandLine().getCommandName() + " --help)");
            err.flush();
            return EXIT_USAGE;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
