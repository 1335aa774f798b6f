// Reference counts of object versions being streamed by in-process readers, and deferred reclaim.
// Invariant: a version's chunks are deleted only when it is no longer the head of its key AND no
// reader holds it, so a GET that started before an overwrite or delete still sees the whole old
// object.
export class VersionRefs {
  readonly #readers = new Map<string, number>();
  readonly #onRelease = new Map<string, () => void>();

  pin(versionId: string): void {
    this.#readers.set(versionId, (this.#readers.get(versionId) ?? 0) + 1);
  }

  unpin(versionId: string): void {
    const n = (this.#readers.get(versionId) ?? 0) - 1;
    if (n > 0) {
      this.#readers.set(versionId, n);
      return;
    }
    this.#readers.delete(versionId);
    const reclaim = this.#onRelease.get(versionId);
    if (reclaim) {
      this.#onRelease.delete(versionId);
      reclaim();
    }
  }

  /** Runs `reclaim` now if nobody reads `versionId`, else when its last reader unpins. */
  whenUnread(versionId: string, reclaim: () => void): void {
    if ((this.#readers.get(versionId) ?? 0) === 0) reclaim();
    else this.#onRelease.set(versionId, reclaim);
  }

  readers(versionId: string): number {
    return this.#readers.get(versionId) ?? 0;
  }
}
