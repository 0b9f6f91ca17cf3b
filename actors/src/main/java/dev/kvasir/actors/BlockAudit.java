package dev.kvasir.actors;

import java.util.List;

/**
 * The result of checking a {@link KvBlockManager}'s invariants: {@code violations} is empty when
 * every refcount matches the block tables and every block is in exactly one of in-use, free or
 * cached-free. {@code whole} = no violations and no block in use (nothing leaked).
 */
public record BlockAudit(List<String> violations, int total, int used, int free, int cached) {
    public BlockAudit {
        violations = List.copyOf(violations);
    }

    public boolean ok() {
        return violations.isEmpty();
    }

    public boolean whole() {
        return ok() && used == 0 && free + cached == total;
    }
}
