package sample;

import org.testng.annotations.BeforeClass;
import org.testng.annotations.Test;

public class BrokenSetupTest {
    @BeforeClass
    public void setUp() { throw new IllegalStateException("no database"); }

    @Test
    public void needsDatabase() {}
}
