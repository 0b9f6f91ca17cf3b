package dev.kvasir.sharding.serialization;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.Pool;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.SerializerWithStringManifest;

import java.io.NotSerializableException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Pekko serializer for every message that crosses nodes, on Kryo 5 (the Kryo serializer module of
 * the Akka world is not published for Pekko here; this is the small part of it Kvasir needs). The
 * manifest is the class name, accepted only for registered wire classes. Kryo instances are not
 * thread-safe, so they are pooled.
 */
public final class KryoSerializer extends SerializerWithStringManifest {
    /** Pekko's serializer id for Kvasir's wire format (ids below 100 are reserved). */
    public static final int IDENTIFIER = 7_341;

    private final Pool<Kryo> pool;
    private final Map<String, Class<?>> byName = new HashMap<>();

    public KryoSerializer(ExtendedActorSystem system) {
        ActorRefResolver resolver = ActorRefResolver.get(Adapter.toTyped(system));
        Class<?> actorRefClass = Adapter.toTyped(system.deadLetters()).getClass();
        List<Class<?>> classes = WireClasses.all();
        for (Class<?> c : classes) byName.put(c.getName(), c);
        this.pool = new Pool<>(true, false, 16) {
            @Override
            protected Kryo create() {
                return KryoFactory.create(resolver, actorRefClass);
            }
        };
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public String manifest(Object o) {
        return o.getClass().getName();
    }

    @Override
    public byte[] toBinary(Object o) {
        Kryo kryo = pool.obtain();
        try (Output out = new Output(256, -1)) {
            kryo.writeObject(out, o);
            return out.toBytes();
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot serialize " + o.getClass().getName() + ": " + e.getMessage(), e);
        } finally {
            pool.free(kryo);
        }
    }

    @Override
    public Object fromBinary(byte[] bytes, String manifest) throws NotSerializableException {
        Class<?> type = byName.get(manifest);
        if (type == null) throw new NotSerializableException("not a Kvasir wire class: " + manifest);
        Kryo kryo = pool.obtain();
        try (Input in = new Input(bytes)) {
            return kryo.readObject(in, type);
        } catch (KryoException e) {
            NotSerializableException n = new NotSerializableException(manifest + ": " + e.getMessage());
            n.initCause(e);
            throw n;
        } finally {
            pool.free(kryo);
        }
    }
}
