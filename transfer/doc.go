// Package transfer copies blobs from one store to another and checks that a
// store holds every blob an index records, the two steps of moving an index
// to a new store (disk to S3, S3 to disk, one bucket to another).
//
// [Copy] reads each blob through the source's verifying reader, hashes it
// again on the way into a spool file, and stores it at the destination with
// the destination's conditional put. A blob whose source bytes do not match
// its digest is reported and not copied. Blobs the destination already
// holds (a Stat) are skipped, so a copy that was interrupted is resumed by
// running it again. The source is only read.
//
// [Check] stats, at a destination, every blob an index records; the switch
// of the index (index.SwitchStore) is refused while any is missing.
package transfer
