package dev.kvasir.sharding.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds Kryo instances that know exactly the wire classes (registration required: an unknown
 * class is refused rather than instantiated by name), typed {@link ActorRef}s (as their
 * serialization format, resolved on arrival) and the JDK types the messages use.
 */
final class KryoFactory {
    private KryoFactory() {
    }

    static Kryo create(ActorRefResolver resolver, Class<?> actorRefClass) {
        Kryo kryo = new Kryo();
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false);
        // primitives and String are registered by Kryo itself; then, in a fixed order:
        kryo.register(int[].class);
        kryo.register(long[].class);
        kryo.register(float[].class);
        kryo.register(double[].class);
        kryo.register(String[].class);
        kryo.register(Instant.class, new InstantSerializer());
        kryo.register(ArrayList.class);
        ListSerializer lists = new ListSerializer();
        for (List<?> sample : List.of(List.of(), List.of(1), List.of(1, 2), List.of(1, 2, 3))) {
            kryo.register(sample.getClass(), lists);
        }
        kryo.addDefaultSerializer(ActorRef.class, new ActorRefSerializer(resolver));
        kryo.register(actorRefClass);
        for (Class<?> c : WireClasses.all()) kryo.register(c);
        return kryo;
    }

    /** Immutable JDK lists (List.of, List.copyOf) have no constructor Kryo can call; rebuild them. */
    private static final class ListSerializer extends Serializer<List<?>> {
        @Override
        public void write(Kryo kryo, Output out, List<?> list) {
            out.writeVarInt(list.size(), true);
            for (Object o : list) kryo.writeClassAndObject(out, o);
        }

        @Override
        public List<?> read(Kryo kryo, Input in, Class<? extends List<?>> type) {
            int n = in.readVarInt(true);
            Object[] items = new Object[n];
            for (int i = 0; i < n; i++) items[i] = kryo.readClassAndObject(in);
            return List.of(items);
        }
    }

    private static final class InstantSerializer extends Serializer<Instant> {
        @Override
        public void write(Kryo kryo, Output out, Instant t) {
            out.writeLong(t.getEpochSecond());
            out.writeInt(t.getNano());
        }

        @Override
        public Instant read(Kryo kryo, Input in, Class<? extends Instant> type) {
            return Instant.ofEpochSecond(in.readLong(), in.readInt());
        }
    }

    /** A typed actor reference travels as its serialization format and is resolved on arrival. */
    private static final class ActorRefSerializer extends Serializer<ActorRef<?>> {
        private final ActorRefResolver resolver;

        ActorRefSerializer(ActorRefResolver resolver) {
            this.resolver = resolver;
        }

        @Override
        public void write(Kryo kryo, Output out, ActorRef<?> ref) {
            out.writeString(resolver.toSerializationFormat(ref));
        }

        @Override
        public ActorRef<?> read(Kryo kryo, Input in, Class<? extends ActorRef<?>> type) {
            return resolver.resolveActorRef(in.readString());
        }
    }
}
