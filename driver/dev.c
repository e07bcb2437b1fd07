// SPDX-License-Identifier: GPL-2.0
/*
 * realcom: local ttys /dev/ttyR<N> for serial ports that live on a network
 * device server (Moxa NPort Real COM, RFC 2217); this file is the module
 * and /dev/realcom, realcomd's end.
 *
 * Each open file of the misc device /dev/realcom stands for one port: after
 * REALCOM_IOC_BIND the module registers /dev/ttyR<index>, and from then on
 * read() and write() on that file carry framed messages (the uAPI in
 * uapi/linux/realcom.h, docs/uapi.md) between the tty and realcomd, the
 * daemon that talks to the device.  Closing the file hangs the tty up and
 * removes it.
 *
 * The module is the tty end only.  It speaks no network protocol, touches
 * no hardware and times nothing on the wire: data becomes messages, control
 * becomes state the daemon reads ahead of the data (ctrl.c), and what comes
 * back is fed to the tty layer (msg.c).
 */

#include <linux/ctype.h>
#include <linux/device.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>

#include "internal.h"

struct tty_driver *realcom_tty_driver;
DEFINE_MUTEX(realcom_ports_lock);	/* guards realcom_ports[] */
struct realcom_port *realcom_ports[REALCOM_MAX_PORTS];

/* ---- /dev/realcom file operations ---- */

static struct realcom_port *realcom_file_port(struct file *file)
{
	struct realcom_file *rf = file->private_data;

	/* pairs with the release in realcom_ioc_bind: a port seen here is set up */
	return smp_load_acquire(&rf->port);
}

static ssize_t realcom_dev_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct realcom_port *rp = realcom_file_port(file);
	unsigned int tx, ctrl;
	bool full;
	size_t n;
	int ret;

	if (!rp || count < REALCOM_HDR)
		return -EINVAL;
	count = min_t(size_t, count, REALCOM_RBUF_SIZE);

	for (;;) {
		if (mutex_lock_interruptible(&rp->read_lock))
			return -ERESTARTSYS;
		tx = 0;
		ctrl = 0;
		n = realcom_fill(rp, rp->rbuf, count, &full, &tx, &ctrl);
		ret = 0;
		if (n && copy_to_user(ubuf, rp->rbuf, n))
			ret = -EFAULT;
		mutex_unlock(&rp->read_lock);

		if (tx || ctrl)
			wake_up_interruptible_all(&rp->kwait);
		if (tx)
			tty_port_tty_wakeup(&rp->port);
		if (ret)
			return ret;
		if (n)
			return n;
		if (full)
			return -EINVAL;	/* the next message needs a bigger buffer */
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(rp->dwait, realcom_readable(rp));
		if (ret)
			return ret;
	}
}

static ssize_t realcom_dev_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	struct realcom_port *rp = realcom_file_port(file);
	bool nonblock = file->f_flags & O_NONBLOCK;
	struct realcom_hdr hdr;
	size_t done = 0;
	int ret = 0;

	if (!rp)
		return -EINVAL;
	if (mutex_lock_interruptible(&rp->write_lock))
		return -ERESTARTSYS;
	while (done < count) {
		if (count - done < REALCOM_HDR) {
			ret = -EINVAL;
			break;
		}
		if (copy_from_user(&hdr, ubuf + done, REALCOM_HDR)) {
			ret = -EFAULT;
			break;
		}
		if (!realcom_hdr_ok(&hdr) ||
		    count - done - REALCOM_HDR < hdr.len) {
			ret = -EINVAL;
			break;
		}
		if (copy_from_user(rp->wbuf, ubuf + done + REALCOM_HDR,
				   hdr.len)) {
			ret = -EFAULT;
			break;
		}
		ret = realcom_handle(rp, &hdr, rp->wbuf, nonblock);
		if (ret)
			break;
		done += REALCOM_HDR + hdr.len;
	}
	mutex_unlock(&rp->write_lock);
	/* whole messages taken before an error still count */
	return done ? done : ret;
}

static __poll_t realcom_dev_poll(struct file *file, poll_table *wait)
{
	struct realcom_port *rp = realcom_file_port(file);
	__poll_t mask = 0;

	if (!rp)
		return EPOLLERR;
	poll_wait(file, &rp->dwait, wait);
	if (realcom_readable(rp))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (realcom_rx_room(rp, REALCOM_MAX_PAYLOAD))
		mask |= EPOLLOUT | EPOLLWRNORM;
	else if (!test_bit(REALCOM_F_THROTTLED, &rp->flags))
		schedule_delayed_work(&rp->rx_recheck, REALCOM_RX_RECHECK);
	return mask;
}

static void realcom_rx_recheck(struct work_struct *work)
{
	struct realcom_port *rp = container_of(to_delayed_work(work),
					       struct realcom_port, rx_recheck);

	wake_up_interruptible(&rp->dwait);
}

static struct realcom_port *realcom_port_alloc(unsigned int index)
{
	struct realcom_port *rp = kzalloc(sizeof(*rp), GFP_KERNEL);

	if (!rp)
		return NULL;
	tty_port_init(&rp->port);
	rp->port.ops = &realcom_port_ops;
	rp->index = index;
	spin_lock_init(&rp->lock);
	init_waitqueue_head(&rp->dwait);
	init_waitqueue_head(&rp->kwait);
	mutex_init(&rp->read_lock);
	mutex_init(&rp->write_lock);
	INIT_DELAYED_WORK(&rp->rx_recheck, realcom_rx_recheck);
	rp->rbuf = kvmalloc(REALCOM_RBUF_SIZE, GFP_KERNEL);
	rp->wbuf = kmalloc(REALCOM_MAX_PAYLOAD, GFP_KERNEL);
	if (!rp->rbuf || !rp->wbuf ||
	    kfifo_alloc(&rp->xmit, REALCOM_XMIT_SIZE, GFP_KERNEL)) {
		tty_port_put(&rp->port);	/* realcom_destruct() frees */
		return NULL;
	}
	return rp;
}

/*
 * A label names the port in /dev/serial/realcom/ through udev, so it is
 * kept to characters that are safe in a file name: [A-Za-z0-9._-], and it
 * may not be "." or "..".  The bytes after its NUL must be zero.
 */
static bool realcom_label_ok(const char *label)
{
	size_t len = strnlen(label, REALCOM_LABEL_SIZE);
	size_t i;

	if (len == REALCOM_LABEL_SIZE ||
	    memchr_inv(label + len, 0, REALCOM_LABEL_SIZE - len))
		return false;
	if (!strcmp(label, ".") || !strcmp(label, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(label[i]) && !strchr("._-", label[i]))
			return false;
	return true;
}

static ssize_t label_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct realcom_port *rp = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", rp->label);
}
static DEVICE_ATTR_RO(label);

static struct attribute *realcom_tty_attrs[] = {
	&dev_attr_label.attr,
	NULL
};
ATTRIBUTE_GROUPS(realcom_tty);

static int realcom_ioc_bind(struct realcom_file *rf, void __user *argp)
{
	struct realcom_bind req;
	struct realcom_port *rp;
	struct device *dev;
	int ret = 0;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.index >= REALCOM_MAX_PORTS || req.flags ||
	    memchr_inv(req.reserved, 0, sizeof(req.reserved)) ||
	    !realcom_label_ok(req.label))
		return -EINVAL;

	mutex_lock(&rf->lock);
	if (rf->port) {
		ret = -EBUSY;
		goto out;
	}
	rp = realcom_port_alloc(req.index);
	if (!rp) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(rp->label, req.label, sizeof(rp->label));

	mutex_lock(&realcom_ports_lock);
	if (realcom_ports[req.index])
		ret = -EBUSY;
	else
		realcom_ports[req.index] = rp;
	mutex_unlock(&realcom_ports_lock);
	if (ret) {
		tty_port_put(&rp->port);
		goto out;
	}

	dev = tty_port_register_device_attr(&rp->port, realcom_tty_driver,
					    req.index, NULL, rp,
					    realcom_tty_groups);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		mutex_lock(&realcom_ports_lock);
		realcom_ports[req.index] = NULL;
		mutex_unlock(&realcom_ports_lock);
		tty_port_put(&rp->port);
		goto out;
	}
	/* publish the port only now that it is set up (realcom_file_port) */
	smp_store_release(&rf->port, rp);
out:
	mutex_unlock(&rf->lock);
	return ret;
}

/*
 * The daemon's file is gone: nothing more is queued, every waiter on the tty
 * side gives up, the tty is hung up and /dev/ttyR<N> removed, and only then
 * is the index free for a new BIND (so two devices of one name never
 * exist).  A tty still held by an application keeps the port (not the index
 * or the device node) until its last reference goes, through
 * realcom_tty_cleanup(), or until a new open moves it to the next port bound
 * to the index (realcom_tty_rebind).
 */
static void realcom_unbind(struct realcom_port *rp)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	set_bit(REALCOM_F_DEAD, &rp->flags);
	rp->dirty = 0;
	kfifo_reset(&rp->xmit);
	rp->tx_out = rp->tx_in;
	rp->oqueue = 0;
	spin_unlock_irqrestore(&rp->lock, flags);

	wake_up_interruptible_all(&rp->kwait);
	wake_up_interruptible_all(&rp->port.delta_msr_wait);
	wake_up_interruptible_all(&rp->port.open_wait);

	tty_port_tty_hangup(&rp->port, false);
	tty_port_unregister_device(&rp->port, realcom_tty_driver, rp->index);
	cancel_delayed_work_sync(&rp->rx_recheck);

	mutex_lock(&realcom_ports_lock);
	realcom_ports[rp->index] = NULL;
	mutex_unlock(&realcom_ports_lock);
	tty_port_put(&rp->port);
}

static long realcom_dev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct realcom_file *rf = file->private_data;
	void __user *argp = (void __user *)arg;
	struct realcom_version ver = {
		.api_version = REALCOM_API_VERSION,
		.features = REALCOM_FEAT_CTRL_STATE | REALCOM_FEAT_TX_HOLD |
			    REALCOM_FEAT_TIMED_BREAK | REALCOM_FEAT_LINE_APPLIED,
	};

	switch (cmd) {
	case REALCOM_IOC_VERSION:
		return copy_to_user(argp, &ver, sizeof(ver)) ? -EFAULT : 0;
	case REALCOM_IOC_BIND:
		return realcom_ioc_bind(rf, argp);
	}
	return -ENOTTY;
}

static int realcom_dev_open(struct inode *inode, struct file *file)
{
	struct realcom_file *rf = kzalloc(sizeof(*rf), GFP_KERNEL);

	if (!rf)
		return -ENOMEM;
	mutex_init(&rf->lock);
	file->private_data = rf;
	return stream_open(inode, file);
}

static int realcom_dev_release(struct inode *inode, struct file *file)
{
	struct realcom_file *rf = file->private_data;

	if (rf->port)
		realcom_unbind(rf->port);
	mutex_destroy(&rf->lock);
	kfree(rf);
	return 0;
}

static const struct file_operations realcom_fops = {
	.owner = THIS_MODULE,
	.open = realcom_dev_open,
	.release = realcom_dev_release,
	.read = realcom_dev_read,
	.write = realcom_dev_write,
	.poll = realcom_dev_poll,
	.unlocked_ioctl = realcom_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice realcom_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "realcom",
	.fops = &realcom_fops,
	.mode = 0600,
};

static int __init realcom_init(void)
{
	struct tty_driver *driver;
	int ret;

	driver = tty_alloc_driver(REALCOM_MAX_PORTS,
				  TTY_DRIVER_REAL_RAW | TTY_DRIVER_DYNAMIC_DEV |
				  TTY_DRIVER_HARDWARE_BREAK);
	if (IS_ERR(driver))
		return PTR_ERR(driver);

	driver->driver_name = "realcom";
	driver->name = "ttyR";
	driver->major = 0;	/* dynamic */
	driver->minor_start = 0;
	driver->type = TTY_DRIVER_TYPE_SERIAL;
	driver->subtype = SERIAL_TYPE_NORMAL;
	driver->init_termios = tty_std_termios;
	driver->init_termios.c_cflag = B9600 | CS8 | CREAD | HUPCL | CLOCAL;
	driver->init_termios.c_ispeed = 9600;
	driver->init_termios.c_ospeed = 9600;
	tty_set_operations(driver, &realcom_tty_ops);

	ret = tty_register_driver(driver);
	if (ret)
		goto err_put;
	realcom_tty_driver = driver;

	ret = misc_register(&realcom_misc);
	if (ret)
		goto err_unregister;
	return 0;

err_unregister:
	tty_unregister_driver(driver);
	realcom_tty_driver = NULL;
err_put:
	tty_driver_kref_put(driver);
	return ret;
}

static void __exit realcom_exit(void)
{
	misc_deregister(&realcom_misc);
	tty_unregister_driver(realcom_tty_driver);
	tty_driver_kref_put(realcom_tty_driver);
}

module_init(realcom_init);
module_exit(realcom_exit);

MODULE_DESCRIPTION("Local ttys for network serial device servers (realcomd's kernel end)");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
