package dev.kvasir.gpu;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Marks a test class that needs a CUDA device: excluded from the default build, run through the bundle. */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("gpu")
public @interface GpuTest {

}
