package dev.kvasir.gpu;

import jcuda.NativePointerObject;
import jcuda.Pointer;

import java.lang.reflect.Method;

/**
 * The raw address behind a JCuda handle or device pointer, for libraries called through the
 * foreign-function API (cuBLAS). JCuda keeps it in protected accessors; its jar sits in the unnamed
 * module, so reflection may open them.
 */
final class NativeAddress {
    private static final Method NATIVE_POINTER;
    private static final Method BYTE_OFFSET;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredMethod("getNativePointer");
            NATIVE_POINTER.setAccessible(true);
            BYTE_OFFSET = Pointer.class.getDeclaredMethod("getByteOffset");
            BYTE_OFFSET.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private NativeAddress() {
    }

    /** Native pointer plus, for pointers made with {@code withByteOffset}, their offset. */
    static long of(NativePointerObject o) {
        try {
            long base = (long) NATIVE_POINTER.invoke(o);
            return o instanceof Pointer p ? base + (long) BYTE_OFFSET.invoke(p) : base;
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read a JCuda pointer's address", e);
        }
    }
}
