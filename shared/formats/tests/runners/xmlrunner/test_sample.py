# The unittest sample, run through unittest-xml-reporting (xmlrunner).
import unittest


class Sample(unittest.TestCase):
    def test_passes(self):
        self.assertTrue(True)

    def test_fails(self):
        self.assertEqual(1, 2)

    def test_errors(self):
        raise RuntimeError("boom")

    @unittest.skip("not here")
    def test_skipped(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.assertEqual(1, 2)

    @unittest.expectedFailure
    def test_unexpected_success(self):
        self.assertEqual(1, 1)


if __name__ == "__main__":
    import sys
    import xmlrunner
    from xmlrunner.result import _XMLTestResult

    class Result(_XMLTestResult):
        # xmlrunner 3.2.0 keeps unexpected successes as tuples, which Python 3.11's own
        # printErrors cannot print; the XML report is what this sample is for.
        def printErrors(self):
            pass

    runner = xmlrunner.XMLTestRunner(output=sys.argv[1], resultclass=Result)
    unittest.main(testRunner=runner, argv=sys.argv[:1], exit=False)
