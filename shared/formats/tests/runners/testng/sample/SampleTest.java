// The TestNG sample: pass, fail, skip, a data provider, and a failing @BeforeClass in a second
// class (whose tests TestNG then skips).
package sample;

import org.testng.Assert;
import org.testng.SkipException;
import org.testng.annotations.BeforeClass;
import org.testng.annotations.DataProvider;
import org.testng.annotations.Test;

public class SampleTest {
    @BeforeClass
    public void setUp() {}

    @Test
    public void passes() { Assert.assertEquals(1, 1); }

    @Test
    public void fails() { Assert.assertEquals(1, 2, "one is not two"); }

    @Test
    public void skipped() { throw new SkipException("not here"); }

    @DataProvider(name = "numbers")
    public Object[][] numbers() { return new Object[][] {{1}, {2}, {3}}; }

    @Test(dataProvider = "numbers")
    public void small(int n) { Assert.assertTrue(n < 3, "too big: " + n); }
}
