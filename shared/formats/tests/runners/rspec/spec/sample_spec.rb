# The RSpec sample: pass, fail, pending (expected to fail), skip, nested groups.
RSpec.describe "Outer" do
  context "inner" do
    it("passes") { expect(1).to eq(1) }
    it("fails") { expect(1).to eq(2) }
  end
  it("is pending") do
    pending("not done")
    expect(1).to eq(2)
  end
  it("is skipped") { skip("not here") }
end
