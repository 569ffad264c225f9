// Where an invocation of a 1-D shader is in its workload. These shaders run 64 invocations per
// workgroup; past the device's limit of workgroups per dimension the host folds the count into an
// x × y grid (src/backend/webgpu/backend.ts: #groups1d), so the index is x + y·(groups along x)·64.
// The last workgroups may reach past the workload: every shader checks its own bound.
const WORKGROUP_1D: u32 = 64u;

fn index_1d(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.x + gid.y * groups.x * WORKGROUP_1D;
}
