package dev.kvasir.sharding.serialization;

import dev.kvasir.actors.BlockAudit;
import dev.kvasir.actors.ExecutorCommand;
import dev.kvasir.actors.GenerationEvent;
import dev.kvasir.actors.RouterCommand;
import dev.kvasir.actors.RouterMetrics;
import dev.kvasir.actors.StepOutcome;

import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The classes that may cross between nodes, found from a few roots: sealed protocols contribute
 * their public permitted subtypes, records their component types (list elements included), arrays
 * their element type. The set is sorted by name, so every node registers the same classes under
 * the same Kryo ids without a hand-kept list drifting from the code.
 */
public final class WireClasses {
    /** The protocols that travel between nodes (local-only messages stay out). */
    static final List<Class<?>> ROOTS = List.of(RouterCommand.Submit.class, RouterCommand.Cancel.class,
            RouterCommand.GetMetrics.class, RouterCommand.CheckBlocks.class, GenerationEvent.class,
            ExecutorCommand.class, StepOutcome.class, RouterMetrics.class, BlockAudit.class);

    private WireClasses() {
    }

    /** Every application class reachable from {@link #ROOTS}, sorted by name. */
    public static List<Class<?>> all() {
        Set<Class<?>> found = new TreeSet<>(Comparator.comparing(Class::getName));
        for (Class<?> root : ROOTS) visit(root, found);
        return List.copyOf(found);
    }

    private static void visit(Class<?> c, Set<Class<?>> found) {
        if (c.isArray()) {
            visit(c.getComponentType(), found);
            return;
        }
        if (!c.getName().startsWith("dev.kvasir.") || !Modifier.isPublic(c.getModifiers()) || !found.add(c)) return;
        if (c.isSealed()) {
            for (Class<?> sub : c.getPermittedSubclasses()) visit(sub, found);
        }
        if (c.isRecord()) {
            for (RecordComponent rc : c.getRecordComponents()) {
                visit(rc.getType(), found);
                visitTypeArguments(rc.getGenericType(), found);
            }
        }
    }

    private static void visitTypeArguments(Type t, Set<Class<?>> found) {
        if (t instanceof ParameterizedType p) {
            for (Type arg : p.getActualTypeArguments()) {
                if (arg instanceof Class<?> c) visit(c, found);
                visitTypeArguments(arg, found);
            }
        }
    }
}
